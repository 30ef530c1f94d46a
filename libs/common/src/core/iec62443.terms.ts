/**
 * IEC 62443-4-2 terms every lib speaks of: the seven foundational requirements and the four
 * component types, in the order the standard lists them. Said here once; fleet (products and
 * their targets), hardening (catalog and scoring), zones and the command line read them.
 */
export const FRS = ['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7'] as const;
export type Fr = (typeof FRS)[number];

/** Software application, embedded device, host device, network device (62443-4-2 clause order). */
export const COMPONENT_TYPES = ['SAR', 'EDR', 'HDR', 'NDR'] as const;
export type ComponentType = (typeof COMPONENT_TYPES)[number];

export function isFr(v: unknown): v is Fr {
  return typeof v === 'string' && (FRS as readonly string[]).includes(v);
}

export function isComponentType(v: unknown): v is ComponentType {
  return typeof v === 'string' && (COMPONENT_TYPES as readonly string[]).includes(v);
}

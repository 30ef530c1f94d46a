import type { ComponentType } from '@fleetguard/common';

/**
 * What fleet needs of the 62443-4-2 catalog: which requirement ids exist for a component type,
 * to check a product's declarations. The catalog belongs to hardening; the composition root
 * binds this port to it, so fleet does not depend on hardening (which depends on fleet).
 */
export interface RequirementCatalogPort {
  knownRequirementIds(componentType: ComponentType): ReadonlySet<string>;
}

export const REQUIREMENT_CATALOG = Symbol('fleet.RequirementCatalogPort');

import { invalid, type ComponentType, type Fr } from '@fleetguard/common';

export type LevelVector = Record<Fr, number>;

/** Requirement ids as 62443-4-2 writes them: `CR 1.1`, `CR 1.1 RE(2)`, `EDR 3.14`, `SAR 2.4 RE(1)`. */
export const REQUIREMENT_ID = /^(CR|EDR|HDR|NDR|SAR) \d{1,2}\.\d{1,2}( RE\(\d{1,2}\))?$/;

/**
 * Checks declared requirement ids against the catalog in use. `known` is the set of ids the
 * catalog has for the product's component type; an id outside it is refused by name.
 */
export function checkDeclaredRequirements(ids: string[], known: ReadonlySet<string>, componentType: ComponentType): void {
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length) {
    throw invalid(
      'product.unknown-requirement',
      `declaredRequirements holds id(s) the 62443-4-2 catalog has no item for, for a ${componentType}: ${unknown.join(', ')}`,
    );
  }
}

/**
 * The IEC 62443-4-2:2019 requirement catalog shipped with the service, and its flattening into
 * the items a component of one type is scored on.
 *
 * The JSON file is the reference data as published (`catalog/iec62443-4-2-catalog.json`, kept byte
 * for byte); the version and the name of the standard are added here in code. (The file is not
 * under `data/` because the repository's `.gitignore` ignores every `data/` directory.)
 */
import { COMPONENT_TYPES, FRS, invalid, isComponentType, type ComponentType, type Fr } from '@fleetguard/common';
import catalogEntries from './catalog/iec62443-4-2-catalog.json';

/** The component types and FRs are the kernel's (@fleetguard/common); the catalog speaks of them by these names. */
export { COMPONENT_TYPES, isComponentType, type ComponentType };
export const FR_KEYS = FRS;
export type FrKey = Fr;
export type FrNumber = 1 | 2 | 3 | 4 | 5 | 6 | 7;
/** Security level 1..4 at which an item is first required. */
export type SecurityLevel = 1 | 2 | 3 | 4;
/** An SL-C value per FR: 0 (level 1 not met) .. 4. */
export type SlValue = 0 | 1 | 2 | 3 | 4;
export type SlVector = Record<FrKey, SlValue>;

/** A requirement enhancement as stored in the catalog. */
export interface CatalogEnhancement {
  readonly id: string;
  readonly title: string;
  readonly sl: SecurityLevel;
  readonly uncertain?: boolean;
  readonly note?: string;
  /**
   * The enhancement's own applicability: `null` = it applies whatever its CR's `appliesIf` (e.g. CR
   * 2.12 RE(1) covers every user, not only human ones); absent = its CR's.
   */
  readonly appliesIf?: string | null;
}

/** A component requirement (common CR or component-specific SAR/EDR/HDR/NDR) as stored. */
export interface CatalogEntry {
  readonly id: string;
  readonly fr: FrNumber;
  readonly title: string;
  /** null only for placeholders (`delegatedTo`) and CRs with `noComponentRequirement`. */
  readonly sl: SecurityLevel | null;
  readonly enhancements: readonly CatalogEnhancement[];
  readonly componentSpecific?: readonly ComponentType[];
  readonly delegatedTo?: readonly string[];
  readonly noComponentRequirement?: boolean;
  readonly appliesIf?: string;
  readonly uncertain?: boolean;
  readonly note?: string;
  readonly sources?: readonly string[];
}

export interface Catalog {
  readonly version: string;
  readonly standard: string;
  readonly items: readonly CatalogEntry[];
}

/** One scorable item (a CR or an RE) for a component type. */
export interface ApplicableItem {
  readonly id: string;
  readonly fr: FrNumber;
  readonly title: string;
  readonly sl: SecurityLevel;
  /** The component types of a component-specific item (its parent's, for an RE). */
  readonly componentSpecific?: readonly ComponentType[];
  /** The catalog's applicability condition (the parent's for an RE, unless the RE has its own). */
  readonly appliesIf?: string;
  /** Sources disagree on this item's level; see `note`. */
  readonly uncertain?: true;
  readonly note?: string;
  /** For an RE: the id of its CR. */
  readonly parent?: string;
}

/** The catalog data's revision: `2019-1.1` gives enhancements their own applicability (CR 2.12 RE(1)). */
export const CATALOG_VERSION = '2019-1.1';
export const CATALOG_STANDARD = 'IEC 62443-4-2:2019';

let shipped: Catalog | undefined;

/** The catalog shipped with the service (validated and frozen on first use). */
export function loadCatalog(): Catalog {
  if (!shipped) {
    shipped = deepFreeze(
      validateCatalog({ version: CATALOG_VERSION, standard: CATALOG_STANDARD, items: catalogEntries }),
    );
  }
  return shipped;
}

export function assertComponentType(value: unknown): ComponentType {
  if (!isComponentType(value)) {
    throw invalid(
      'hardening.invalid-component-type',
      `component type must be one of ${COMPONENT_TYPES.join(', ')}, not ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export const frKey = (fr: FrNumber): FrKey => FR_KEYS[fr - 1];

/**
 * The items a component of `componentType` is scored on, CRs followed by their REs, in catalog
 * order, optionally for one FR:
 * - a placeholder CR (`sl: null` with `delegatedTo`) is skipped; the component-specific entries it
 *   delegates to stand in its place (only the one for this component type is kept);
 * - a CR with `noComponentRequirement` is skipped;
 * - a component-specific entry is kept only for its own component types;
 * - an RE has its CR's FR, component types and applicability (unless it has its own `appliesIf`).
 */
export function applicableItems(
  catalog: Catalog,
  componentType: ComponentType,
  fr?: FrNumber,
): ApplicableItem[] {
  assertComponentType(componentType);
  const out: ApplicableItem[] = [];
  for (const e of catalog.items) {
    if (fr !== undefined && e.fr !== fr) continue;
    if (e.noComponentRequirement || e.sl === null) continue;
    if (e.componentSpecific && !e.componentSpecific.includes(componentType)) continue;
    const shared = {
      fr: e.fr,
      ...(e.componentSpecific ? { componentSpecific: e.componentSpecific } : {}),
      ...(e.appliesIf ? { appliesIf: e.appliesIf } : {}),
    };
    out.push({
      id: e.id,
      title: e.title,
      sl: e.sl,
      ...shared,
      ...(e.uncertain ? { uncertain: true as const } : {}),
      ...(e.note ? { note: e.note } : {}),
    });
    for (const re of e.enhancements) {
      const own = re.appliesIf === undefined ? shared : { fr: shared.fr, ...(e.componentSpecific ? { componentSpecific: e.componentSpecific } : {}), ...(re.appliesIf ? { appliesIf: re.appliesIf } : {}) };
      out.push({
        id: re.id,
        title: re.title,
        sl: re.sl,
        ...own,
        ...(re.uncertain ? { uncertain: true as const } : {}),
        ...(re.note ? { note: re.note } : {}),
        parent: e.id,
      });
    }
  }
  return out;
}

/** Every item id in the catalog (CRs, placeholders and REs), for checking references. */
export function catalogIds(catalog: Catalog): Set<string> {
  const ids = new Set<string>();
  for (const e of catalog.items) {
    ids.add(e.id);
    for (const re of e.enhancements) ids.add(re.id);
  }
  return ids;
}

/**
 * Checks the shape and the internal references of a catalog (unique ids, FR 1..7, SL 1..4, null
 * SL only on placeholders, placeholders delegating to existing component-specific entries of the
 * same FR). Throws `hardening.invalid-catalog` naming every problem.
 */
export function validateCatalog(input: {
  version: unknown;
  standard: unknown;
  items: unknown;
}): Catalog {
  const problems: string[] = [];
  if (typeof input.version !== 'string' || !input.version) problems.push('version must be a non-empty string');
  if (typeof input.standard !== 'string' || !input.standard) problems.push('standard must be a non-empty string');
  if (!Array.isArray(input.items)) {
    problems.push('items must be an array');
    throw invalid('hardening.invalid-catalog', `invalid catalog: ${problems.join('; ')}`, { problems });
  }
  const items = input.items as Record<string, unknown>[];
  const seen = new Set<string>();
  const byId = new Map<string, Record<string, unknown>>();
  const isSl = (v: unknown) => v === 1 || v === 2 || v === 3 || v === 4;
  items.forEach((e, i) => {
    const at = typeof e?.id === 'string' ? e.id : `items[${i}]`;
    if (typeof e !== 'object' || e === null) return void problems.push(`${at} must be an object`);
    if (typeof e.id !== 'string' || !e.id) problems.push(`${at}: id must be a non-empty string`);
    if (typeof e.title !== 'string') problems.push(`${at}: title must be a string`);
    if (!Number.isInteger(e.fr) || (e.fr as number) < 1 || (e.fr as number) > 7) problems.push(`${at}: fr must be 1..7`);
    const placeholder = Array.isArray(e.delegatedTo) || e.noComponentRequirement === true;
    if (e.sl === null ? !placeholder : !isSl(e.sl)) {
      problems.push(`${at}: sl must be 1..4 (null only with delegatedTo or noComponentRequirement)`);
    }
    if (!Array.isArray(e.enhancements)) problems.push(`${at}: enhancements must be an array`);
    else {
      for (const re of e.enhancements as Record<string, unknown>[]) {
        if (typeof re?.id !== 'string' || typeof re.title !== 'string' || !isSl(re.sl)) {
          problems.push(`${at}: each enhancement needs id, title and sl 1..4`);
        } else if (re.appliesIf !== undefined && re.appliesIf !== null && typeof re.appliesIf !== 'string') {
          problems.push(`${re.id}: appliesIf must be a string or null`);
        } else if (seen.has(re.id)) problems.push(`${re.id} is listed twice`);
        else seen.add(re.id);
      }
    }
    if (
      e.componentSpecific !== undefined &&
      (!Array.isArray(e.componentSpecific) || !e.componentSpecific.every(isComponentType))
    ) {
      problems.push(`${at}: componentSpecific must list ${COMPONENT_TYPES.join('/')}`);
    }
    if (e.appliesIf !== undefined && typeof e.appliesIf !== 'string') problems.push(`${at}: appliesIf must be a string`);
    if (typeof e.id === 'string') {
      if (seen.has(e.id)) problems.push(`${e.id} is listed twice`);
      seen.add(e.id);
      byId.set(e.id, e);
    }
  });
  for (const e of items) {
    if (!Array.isArray(e?.delegatedTo)) continue;
    for (const target of e.delegatedTo as unknown[]) {
      const t = typeof target === 'string' ? byId.get(target) : undefined;
      if (!t) problems.push(`${String(e.id)}: delegates to unknown ${JSON.stringify(target)}`);
      else if (!Array.isArray(t.componentSpecific)) problems.push(`${String(e.id)}: delegate ${String(target)} is not component-specific`);
      else if (t.fr !== e.fr) problems.push(`${String(e.id)}: delegate ${String(target)} is in another FR`);
    }
  }
  if (problems.length) {
    throw invalid('hardening.invalid-catalog', `invalid catalog: ${problems.slice(0, 20).join('; ')}`, { problems });
  }
  return input as unknown as Catalog;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

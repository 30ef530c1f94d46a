import {
  assertComponentType,
  createScorer,
  isComponentType,
  loadCatalog,
  loadFactRules,
  type Catalog,
  type ComponentType,
  type ApplicabilityStatement,
  type DeclaredRequirements,
  type FactRules,
  type Scorer,
} from '../core';

/**
 * Compiled scorers, one per component type, built on first use and kept (createScorer does all
 * the per-type work once), and products' declared requirements resolved against them.
 *
 * Attestation staleness is decided before scoring (scoring-inputs.ts); the report age limit
 * (`maxReportAgeSeconds`, from configuration) is the scorers'.
 */
export class ScorerCache {
  private readonly scorers = new Map<ComponentType, Scorer>();
  private readonly declared = new Map<string, { key: string; value: DeclaredRequirements }>();

  constructor(
    readonly catalog: Catalog = loadCatalog(),
    readonly rules: FactRules = loadFactRules(),
    private readonly warn: (message: string) => void = () => undefined,
    private readonly options: { maxReportAgeSeconds?: number } = {},
  ) {}

  scorer(componentType: ComponentType): Scorer {
    let s = this.scorers.get(componentType);
    if (!s) {
      s = createScorer(this.catalog, this.rules, assertComponentType(componentType), { maxReportAgeSeconds: this.options.maxReportAgeSeconds });
      this.scorers.set(componentType, s);
    }
    return s;
  }

  /**
   * A product's declared requirements for its scorer, resolved once per product (again when the
   * product's list or type changes). Ids the catalog does not know (products are checked when
   * they are created, so only after a catalog change) are left out with a warning rather than
   * failing the device's score.
   */
  declaredFor(productId: string, componentType: ComponentType, ids: readonly string[], applicability: readonly ApplicabilityStatement[] = []): DeclaredRequirements {
    const key = `${componentType}\u0000${ids.join('\u0000')}\u0001${JSON.stringify(applicability)}`;
    const hit = this.declared.get(productId);
    if (hit && hit.key === key) return hit.value;
    const scorer = this.scorer(componentType);
    let soa = applicability;
    try {
      scorer.declare([], soa);
    } catch (e) {
      // Checked when stored; only a catalog change can make it invalid: scored without it, with a warning.
      this.warn(`product ${productId}: statement of applicability ignored: ${(e as Error).message}`);
      soa = [];
    }
    let value: DeclaredRequirements;
    try {
      value = scorer.declare(ids, soa);
    } catch (e) {
      const unknown = (e as { details?: { unknown?: string[] } }).details?.unknown;
      if (!unknown?.length) throw e;
      this.warn(`product ${productId} declares ids not in catalog ${this.catalog.version}, ignored: ${unknown.join(', ')}`);
      const skip = new Set(unknown);
      value = scorer.declare(ids.filter((id) => !skip.has(id)), soa);
    }
    this.declared.set(productId, { key, value });
    return value;
  }
}

/** A stored component type, checked (the column has a CHECK constraint; this is for the types). */
export function storedComponentType(v: unknown): ComponentType {
  if (!isComponentType(v)) return assertComponentType(v);
  return v;
}

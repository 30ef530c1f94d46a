import { DomainError } from '@fleetguard/common';
import rawCatalog from './catalog/iec62443-4-2-catalog.json';
import { applicableItems, COMPONENT_TYPES, loadCatalog, validateCatalog, type ComponentType } from './catalog';

describe('catalog', () => {
  const catalog = loadCatalog();

  it('wraps the shipped JSON with a version and the standard, frozen', () => {
    expect(catalog).toMatchObject({ version: '2019-1.1', standard: 'IEC 62443-4-2:2019' });
    expect(catalog.items).toHaveLength(rawCatalog.length);
    expect(Object.isFrozen(catalog.items[0])).toBe(true);
    expect(loadCatalog()).toBe(catalog);
  });

  describe('applicableItems', () => {
    it('flattens CRs and their REs; an RE carries its CR’s FR, applicability and parent', () => {
      const items = applicableItems(catalog, 'NDR', 1);
      expect(items.find((i) => i.id === 'NDR 1.6 RE(1)')).toEqual({
        id: 'NDR 1.6 RE(1)',
        fr: 1,
        title: 'Unique identification and authentication',
        sl: 2,
        componentSpecific: ['NDR'],
        appliesIf: 'network device supports wireless access management',
        parent: 'NDR 1.6',
      });
      expect(items.find((i) => i.id === 'CR 1.7 RE(2)')).toMatchObject({ sl: 4, appliesIf: 'password-based authentication is used', parent: 'CR 1.7' });
      expect(items.every((i) => i.fr === 1)).toBe(true);
    });

    it('keeps uncertain and note on CRs and REs', () => {
      const hdr = applicableItems(catalog, 'HDR', 3);
      expect(hdr.find((i) => i.id === 'HDR 3.2 RE(1)')).toMatchObject({ uncertain: true, note: expect.stringContaining('single source') });
      expect(hdr.find((i) => i.id === 'CR 3.7')).toMatchObject({ uncertain: true });
      expect(applicableItems(catalog, 'EDR', 3).find((i) => i.id === 'EDR 3.2')).toMatchObject({ uncertain: true, sl: 1 });
    });

    it.each<[ComponentType, number]>(
      COMPONENT_TYPES.map((t) => {
        // Count independently: common non-placeholder CRs + this type's entries, each with its REs.
        const n = rawCatalog
          .filter((e) => e.sl !== null && (!('componentSpecific' in e) || (e.componentSpecific as string[]).includes(t)))
          .reduce((sum, e) => sum + 1 + e.enhancements.length, 0);
        return [t, n];
      }),
    )('%s scores %i items, every one with an SL 1..4', (type, count) => {
      const items = applicableItems(catalog, type);
      expect(items).toHaveLength(count);
      expect(items.every((i) => i.sl >= 1 && i.sl <= 4)).toBe(true);
    });

    it('rejects an unknown component type with a DomainError', () => {
      expect(() => applicableItems(catalog, 'XYZ' as ComponentType)).toThrow(DomainError);
    });
  });

  describe('validateCatalog', () => {
    const base = { version: 'x', standard: 'y' };
    it.each<[string, unknown[], RegExp]>([
      ['duplicate ids', [{ id: 'CR 1.1', fr: 1, title: 't', sl: 1, enhancements: [] }, { id: 'CR 1.1', fr: 1, title: 't', sl: 1, enhancements: [] }], /CR 1.1 is listed twice/],
      ['FR out of range', [{ id: 'CR 8.1', fr: 8, title: 't', sl: 1, enhancements: [] }], /fr must be 1..7/],
      ['null SL without delegation', [{ id: 'CR 1.1', fr: 1, title: 't', sl: null, enhancements: [] }], /sl must be 1..4/],
      ['dangling delegation', [{ id: 'CR 3.14', fr: 3, title: 't', sl: null, enhancements: [], delegatedTo: ['EDR 3.14'] }], /delegates to unknown "EDR 3.14"/],
      ['bad component type', [{ id: 'XDR 1.1', fr: 1, title: 't', sl: 1, enhancements: [], componentSpecific: ['XDR'] }], /componentSpecific/],
    ])('%s', (_name, items, message) => {
      expect(() => validateCatalog({ ...base, items })).toThrow(message);
    });

    it('accepts the shipped data', () => {
      expect(() => validateCatalog({ ...base, items: rawCatalog })).not.toThrow();
    });
  });
});

import fc from 'fast-check';
import { isDomainError } from '@fleetguard/common';
import { cpeMatches } from './component';
import { parseCsaf } from './csaf.advisory';
import { affectedComponents } from './exposure.rules';
import { compareVersions, inRange, matchComponent } from './product-matcher';
import { checkLifecycle, isUnsupported } from './product-lifecycle.rules';
import { parseVex } from './vex.parser';
import { csafAdvisory } from './testing/csaf.samples';

const LWIP = { vendor: 'lwIP', product: 'lwip', affectedVersions: ['2.1.2', '2.1.3'], fixedVersion: '2.2.0', purl: 'pkg:generic/lwip', cpeVendor: 'lwip_project' };

describe('versions, ranges and CPEs', () => {
  it.each([
    ['1.2.3', '1.2.10', -1],
    ['v2.0.0', '2.0.0', 0],
    ['2.0.0-rc1', '2.0.0', -1],
    ['1.36.1-r0', '1.36.1-r1', -1],
    ['3.5', '3.5.0', -1],
  ])('compareVersions(%s, %s) = %d', (a, b, want) => expect(Math.sign(compareVersions(a, b))).toBe(want));

  it.each([
    ['2.1.3', 'vers:semver/>=2.0.0|<2.2.0', true],
    ['2.2.0', 'vers:semver/>=2.0.0|<2.2.0', false],
    ['1.9.0', 'vers:semver/>=2.0.0|<2.2.0', false],
    ['4.2', 'vers:generic/<=4.2', true],
    ['5.0', 'vers:generic/*', true],
    ['1.0.1', 'vers:generic/<1.0|>=1.0.1|<1.1|!=1.0.5', true],
    ['1.5', '>=1.0 <2.0', true],
    ['3.0', 'nonsense ranges ((', false],
  ])('inRange(%s, %s) = %s', (v, r, want) => expect(inRange(v, r)).toBe(want));

  it('CPE 2.3 matching treats * as ANY and compares vendor, product and version', () => {
    expect(cpeMatches('cpe:2.3:a:openssl:openssl:3.2.1:*:*:*:*:*:*:*', 'cpe:2.3:a:openssl:openssl:3.2.1:*:*:*:*:*:*:*')).toBe(true);
    expect(cpeMatches('cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*', 'cpe:2.3:a:openssl:openssl:3.2.1:*:*:*:*:*:*:*')).toBe(true);
    expect(cpeMatches('cpe:2.3:a:openssl:openssl:3.0.0:*:*:*:*:*:*:*', 'cpe:2.3:a:openssl:openssl:3.2.1:*:*:*:*:*:*:*')).toBe(false);
    expect(cpeMatches('cpe:/a:openssl:openssl:3.2.1', 'cpe:2.3:a:openssl:openssl:3.2.1:*:*:*:*:*:*:*')).toBe(true);
  });

  it('matches by purl (versions compared), CPE, or name and version range', () => {
    expect(matchComponent({ purl: 'pkg:generic/lwip@2.1.3' }, { name: 'lwip', version: '2.1.3', purl: 'pkg:generic/lwip@2.1.3' })).toBe('purl');
    expect(matchComponent({ purl: 'pkg:generic/lwip@2.1.3' }, { name: 'lwip', version: '2.2.0', purl: 'pkg:generic/lwip@2.2.0' })).toBeNull();
    expect(matchComponent({ purl: 'pkg:generic/lwip', range: 'vers:generic/<2.2.0' }, { name: 'lwip', version: '2.1.0', purl: 'pkg:generic/lwip@2.1.0?arch=arm' })).toBe('purl');
    expect(matchComponent({ cpe: 'cpe:2.3:a:arm:mbed_tls:3.5.2:*:*:*:*:*:*:*' }, { name: 'mbedtls-sources', version: '3.5.2', cpe: 'cpe:2.3:a:arm:mbed_tls:3.5.2:*:*:*:*:*:*:*' })).toBe('cpe');
    expect(matchComponent({ name: 'BusyBox', range: 'vers:generic/<1.37' }, { name: 'busybox', version: '1.36.1-r0' })).toBe('name');
    expect(matchComponent({ name: 'busybox' }, { name: 'busybox', version: '1.36.1' })).toBeNull(); // a name alone says no version: not a match
  });
});

describe('CSAF advisories (BSI validator) and exposure rules', () => {
  it('reads products, product status and CVSS from a valid advisory', async () => {
    const a = await parseCsaf(csafAdvisory({ target: LWIP }));
    expect(a.products).toHaveLength(3);
    expect(a.products[1]).toEqual({ productId: 'CSAFPID-0002', name: 'lwip', version: '2.1.3', purl: 'pkg:generic/lwip@2.1.3', cpe: 'cpe:2.3:a:lwip_project:lwip:2.1.3:*:*:*:*:*:*:*' });
    expect(a.statements.map((s) => s.status)).toEqual(['affected', 'affected', 'fixed']);
    expect(a.vulnerabilities[0].cvss?.baseScore).toBe(9.8);
  });

  it('refuses an advisory the validator refuses, with its reasons', async () => {
    const doc = csafAdvisory({ target: LWIP });
    doc.document.tracking.revision_history = [{ date: '2024-01-24T10:00:00.000Z', number: '2', summary: 'x' }];
    await expect(parseCsaf(doc)).rejects.toMatchObject({ code: 'csaf.invalid', details: { reasons: expect.arrayContaining([expect.objectContaining({ test: expect.stringMatching(/^mandatoryTest_6_1_/) })]) } });
  });

  it('finds the affected component of a release and drops it for the latest not_affected VEX statement', async () => {
    const a = await parseCsaf(csafAdvisory({ target: LWIP }));
    const adv = { products: a.products, statements: a.statements, cvss: { 'CVE-2018-0001': a.vulnerabilities[0].cvss } };
    const release = { name: 'Gateway', version: '4.2.0' };
    const comps = [{ name: 'lwip', version: '2.1.3', purl: 'pkg:generic/lwip@2.1.3' }, { name: 'zlib', version: '1.3' }];
    expect(affectedComponents(release, comps, adv, []).map((f) => f.component.name)).toEqual(['lwip']);
    expect(affectedComponents(release, [{ name: 'lwip', version: '2.2.0', purl: 'pkg:generic/lwip@2.2.0' }], adv, [])).toEqual([]);
    const na = { vulnerability: 'CVE-2018-0001', status: 'not_affected' as const, justification: 'component_not_present', products: [{ name: 'Gateway', version: '4.2.0' }] };
    expect(affectedComponents(release, comps, adv, [na])).toEqual([]);
    expect(affectedComponents(release, comps, adv, [na, { ...na, status: 'affected' as const }])).toHaveLength(1);
  });
});

describe('VEX documents', () => {
  it('reads CSAF VEX (validated) with an impact statement for not_affected', async () => {
    const doc = csafAdvisory({ target: LWIP, category: 'csaf_vex' });
    doc.vulnerabilities[0].product_status = { known_not_affected: ['CSAFPID-0001'], known_affected: ['CSAFPID-0002'], fixed: ['CSAFPID-0003'] };
    doc.vulnerabilities[0].flags = [{ label: 'vulnerable_code_not_in_execute_path', product_ids: ['CSAFPID-0001'] }];
    doc.vulnerabilities[0].threats = [{ category: 'impact', details: 'The parser is not built in 2.1.2.', product_ids: ['CSAFPID-0001'] }];
    doc.vulnerabilities[0].remediations[0].product_ids = ['CSAFPID-0002'];
    doc.vulnerabilities[0].scores[0].products = ['CSAFPID-0002'];
    const v = await parseVex(doc);
    expect(v.format).toBe('csaf-vex');
    expect(v.statements.find((s) => s.status === 'not_affected')).toMatchObject({ justification: 'vulnerable_code_not_in_execute_path', products: [{ version: '2.1.2' }] });
  });

  it('refuses not_affected without a justification in CycloneDX VEX, and unknown formats', async () => {
    const cdx = { bomFormat: 'CycloneDX', specVersion: '1.5', vulnerabilities: [{ id: 'CVE-1', analysis: { state: 'not_affected' }, affects: [{ ref: 'pkg:npm/x@1' }] }] };
    await expect(parseVex(cdx)).rejects.toMatchObject({ code: 'vex.no-justification' });
    await expect(parseVex({ hello: 1 })).rejects.toMatchObject({ code: 'vex.unknown-format' });
  });

  it('never crashes on mangled VEX (fast-check): a result or a DomainError', async () => {
    const context = 'https://openvex.dev/ns/v0.2.0';
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({ '@context': fc.constant(context), statements: fc.array(fc.jsonValue(), { maxLength: 4 }) }),
          fc.record({ bomFormat: fc.constant('CycloneDX'), vulnerabilities: fc.array(fc.jsonValue(), { maxLength: 4 }) }),
        ),
        async (doc) => {
          try {
            await parseVex(doc);
          } catch (e) {
            if (!isDomainError(e)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('OpenEoX lifecycle dates', () => {
  it('normalises dates, checks their order and tells end of security support', () => {
    const l = checkLifecycle({ generalAvailability: '2024-01-01', endOfSecuritySupport: '2026-06-30T00:00:00Z', endOfLife: '2027-01-01' });
    expect(l).toEqual({ generalAvailability: '2024-01-01T00:00:00.000Z', endOfSales: null, endOfSecuritySupport: '2026-06-30T00:00:00.000Z', endOfLife: '2027-01-01T00:00:00.000Z' });
    expect(isUnsupported(l, new Date('2026-07-01'))).toBe(true);
    expect(isUnsupported(l, new Date('2026-06-01'))).toBe(false);
    expect(() => checkLifecycle({ endOfLife: 'soon' })).toThrow(/ISO 8601/);
    expect(() => checkLifecycle({ endOfSupport: '2026-01-01' })).toThrow(/unknown lifecycle field/);
  });
});

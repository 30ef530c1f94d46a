import fc from 'fast-check';
import { isDomainError } from '@fleetguard/common';
import { SBOM_MAX_BYTES, parseSbom } from './sbom.parser';
import { CYCLONEDX_16_XML, YOCTO_SPDX_23, ZEPHYR_SPDX_22, npmSbom } from './testing/sbom.samples';

const utf8 = (s: string) => Buffer.from(s, 'utf8');

describe('SBOM parser: documents from real producers and from the specifications', () => {
  it('reads the CycloneDX that `npm sbom` writes', () => {
    const sbom = parseSbom(npmSbom('cyclonedx'));
    expect(sbom.format).toBe('cyclonedx-json');
    expect(['1.4', '1.5', '1.6']).toContain(sbom.specVersion);
    expect(sbom.components.map((c) => c.purl)).toEqual(['pkg:npm/fw-app@1.0.0', 'pkg:npm/dep-lib@2.3.4']);
    expect(sbom.components[1]).toMatchObject({ version: '2.3.4', purl: 'pkg:npm/dep-lib@2.3.4' });
  });

  it('reads the SPDX that `npm sbom` writes', () => {
    const sbom = parseSbom(npmSbom('spdx'));
    expect(sbom.format).toBe('spdx-json');
    expect(sbom.specVersion).toBe('2.3');
    expect(sbom.components).toEqual([
      { name: 'fw-app', version: '1.0.0', purl: 'pkg:npm/fw-app@1.0.0' },
      { name: 'dep-lib', version: '2.3.4', purl: 'pkg:npm/dep-lib@2.3.4' },
    ]);
  });

  it('reads a Zephyr-style SPDX 2.2 tag-value document (packages only, not the files after them)', () => {
    const sbom = parseSbom(utf8(ZEPHYR_SPDX_22));
    expect(sbom).toEqual({
      format: 'spdx-tag-value',
      specVersion: '2.2',
      components: [
        {
          name: 'zephyr-sources',
          version: '3.6.0',
          cpe: 'cpe:2.3:o:zephyrproject:zephyr:3.6.0:*:*:*:*:*:*:*',
          purl: 'pkg:github/zephyrproject-rtos/zephyr@v3.6.0',
          hashes: { 'SHA-1': '85ed0817af83a24ad8da68c2b5094de69833983c' },
        },
        { name: 'mbedtls-sources', version: '3.5.2', cpe: 'cpe:2.3:a:arm:mbed_tls:3.5.2:*:*:*:*:*:*:*' },
        { name: 'app-sources', version: null },
      ],
    });
  });

  it('reads a Yocto-style SPDX 2.3 JSON document (PACKAGE_MANAGER refs, SHA256 checksums)', () => {
    const sbom = parseSbom(utf8(YOCTO_SPDX_23));
    expect(sbom.specVersion).toBe('2.3');
    expect(sbom.components[0]).toEqual({
      name: 'busybox',
      version: '1.36.1-r0',
      cpe: 'cpe:2.3:*:*:busybox:1.36.1:*:*:*:*:*:*:*',
      purl: 'pkg:yocto/core/busybox@1.36.1-r0',
      hashes: { 'SHA-256': 'b8b9ed2b0fc5e4ab0d4d8a05c4e1bd6e3a6c2e2c64f1f7a4a1e0f5c9b1d8a6e2' },
    });
    expect(sbom.components[1]).toEqual({ name: 'openssl', version: '3.2.1', cpe: 'cpe:2.3:a:openssl:openssl:3.2.1:*:*:*:*:*:*:*' });
  });

  it('reads CycloneDX 1.6 XML with nested components', () => {
    const sbom = parseSbom(utf8(CYCLONEDX_16_XML));
    expect(sbom.format).toBe('cyclonedx-xml');
    expect(sbom.specVersion).toBe('1.6');
    expect(sbom.components).toEqual([
      { name: 'gateway-firmware', version: '4.2.0' },
      {
        name: 'lwip',
        version: '2.1.3',
        purl: 'pkg:generic/lwip@2.1.3',
        cpe: 'cpe:2.3:a:lwip_project:lwip:2.1.3:*:*:*:*:*:*:*',
        hashes: { 'SHA-256': '5f6a4d6e6d1b5b2c0e8c4f2a7b9d3e1f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d' },
      },
      { name: 'lwip-contrib', group: 'org.example', version: '2.1.0' },
    ]);
  });

  it.each([
    ['CycloneDX 1.3', JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.3', components: [] }), 'sbom.unsupported-version', /1\.3.*not supported/],
    ['SPDX 2.1', 'SPDXVersion: SPDX-2.1\nPackageName: x\n', 'sbom.unsupported-version', /SPDX-2\.1/],
    ['a bad purl', JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ name: 'x', purl: 'not a purl' }] }), 'sbom.bad-purl', /components\[0\] \('x'\).*not a package URL/],
    ['a component without a name', JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components: [{ version: '1' }] }), 'sbom.bad-field', /components\[0\]: name/],
    ['a bad CPE', JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', packages: [{ name: 'p', externalRefs: [{ referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: 'cpe:nope' }] }] }), 'sbom.bad-cpe', /packages\[0\]/],
    ['an unknown hash', JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.4', components: [{ name: 'x', hashes: [{ alg: 'CRC32', content: 'abcdef01' }] }] }), 'sbom.bad-hash', /CRC32/],
    ['XML with a DOCTYPE', '<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "aaaa">]><bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>', 'sbom.xml-dtd', /DOCTYPE/],
    ['XML that is not CycloneDX', '<svg xmlns="http://www.w3.org/2000/svg"/>', 'sbom.unknown-format', /CycloneDX/],
    ['broken XML', '<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>', 'sbom.bad-xml', /well-formed/],
    ['broken JSON', '{"bomFormat": ', 'sbom.bad-json', /not valid JSON/],
    ['plain text', 'hello', 'sbom.unknown-format', /not an SBOM/],
    ['an unterminated <text>', 'SPDXVersion: SPDX-2.2\nDocumentComment: <text>never ends\n', 'sbom.bad-tag-value', /never ends/],
  ])('refuses %s with a reason', (_name, doc, code, message) => {
    try {
      parseSbom(utf8(doc));
      throw new Error('accepted');
    } catch (e) {
      expect(isDomainError(e)).toBe(true);
      expect((e as { code: string }).code).toBe(code);
      expect((e as Error).message).toMatch(message);
    }
  });

  it('refuses a document over the size limit before reading it', () => {
    expect(() => parseSbom(new Uint8Array(SBOM_MAX_BYTES + 1))).toThrow(/limited/);
  });

  it('never crashes on arbitrary bytes or mangled documents (fast-check): a result or a DomainError', () => {
    const seeds = [npmSbom('cyclonedx').toString(), YOCTO_SPDX_23, ZEPHYR_SPDX_22, CYCLONEDX_16_XML];
    const mangled = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(), fc.string({ maxLength: 20 })).map(([s, a, b, ins]) => {
      const i = a % (s.length + 1);
      const j = Math.min(s.length, i + (b % 40));
      return s.slice(0, i) + ins + s.slice(j);
    });
    const json = fc.jsonValue().map((v) => JSON.stringify(typeof v === 'object' && v !== null && !Array.isArray(v) ? { bomFormat: 'CycloneDX', specVersion: '1.5', ...v } : v));
    fc.assert(
      fc.property(fc.oneof(mangled, json, fc.string(), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'))), (doc) => {
        try {
          const r = parseSbom(utf8(doc));
          for (const c of r.components) expect(typeof c.name).toBe('string');
        } catch (e) {
          if (!isDomainError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });
});

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Real producers and documents written from the specifications, for tests: `npm sbom` over a
 * small package made here (offline: its one dependency is local), a Zephyr-style SPDX 2.2
 * tag-value document (what `west spdx` writes) and a Yocto-style SPDX 2.3 JSON package list
 * (what `create-spdx` writes), and a CycloneDX 1.6 XML BOM.
 */
export function npmSbom(format: 'cyclonedx' | 'spdx', pkg = { name: 'fw-app', version: '1.0.0', dep: { name: 'dep-lib', version: '2.3.4' } }): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-npm-sbom-'));
  try {
    fs.mkdirSync(path.join(dir, 'dep'));
    fs.writeFileSync(path.join(dir, 'dep', 'package.json'), JSON.stringify({ name: pkg.dep.name, version: pkg.dep.version, license: 'MIT' }));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, license: 'MIT', dependencies: { [pkg.dep.name]: 'file:./dep' } }));
    const env = { ...process.env, npm_config_cache: path.join(dir, '.npm'), npm_config_update_notifier: 'false' };
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir, env, stdio: 'ignore' });
    return execFileSync('npm', ['sbom', '--sbom-format', format, '--offline'], { cwd: dir, env, maxBuffer: 64 * 1024 * 1024 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** SPDX 2.2 tag-value as Zephyr's `west spdx` lays it out (spec clauses 6-8). */
export const ZEPHYR_SPDX_22 = `SPDXVersion: SPDX-2.2
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: zephyr-sources
DocumentNamespace: http://spdx.org/spdxdocs/zephyr-8d2b1f4b-0b5f-4c43-9b8e-000000000001
Creator: Tool: Zephyr SPDX builder
Created: 2024-05-02T10:00:00Z
DocumentComment: <text>Generated from the build's CMake file-based API.
Two lines of comment.</text>

##### Package: zephyr-sources

PackageName: zephyr-sources
SPDXID: SPDXRef-zephyr-sources
PackageDownloadLocation: NOASSERTION
PackageVersion: 3.6.0
PackageLicenseConcluded: Apache-2.0
PackageLicenseDeclared: Apache-2.0
PackageCopyrightText: NOASSERTION
PackageChecksum: SHA1: 85ed0817af83a24ad8da68c2b5094de69833983c
ExternalRef: SECURITY cpe23Type cpe:2.3:o:zephyrproject:zephyr:3.6.0:*:*:*:*:*:*:*
ExternalRef: PACKAGE-MANAGER purl pkg:github/zephyrproject-rtos/zephyr@v3.6.0
Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-zephyr-sources

FileName: ./kernel/sched.c
SPDXID: SPDXRef-File-sched.c
FileChecksum: SHA1: 0000000000000000000000000000000000000001
FileChecksum: SHA256: 1111111111111111111111111111111111111111111111111111111111111111
LicenseConcluded: Apache-2.0

##### Package: mbedtls-sources

PackageName: mbedtls-sources
SPDXID: SPDXRef-mbedtls-sources
PackageDownloadLocation: https://github.com/zephyrproject-rtos/mbedtls
PackageVersion: 3.5.2
PackageLicenseConcluded: Apache-2.0
PackageCopyrightText: NOASSERTION
ExternalRef: SECURITY cpe23Type cpe:2.3:a:arm:mbed_tls:3.5.2:*:*:*:*:*:*:*

##### Package: app-sources

PackageName: app-sources
SPDXID: SPDXRef-app-sources
PackageDownloadLocation: NOASSERTION
PackageVersion: NOASSERTION
PackageLicenseConcluded: NOASSERTION
PackageCopyrightText: NOASSERTION
`;

/** SPDX 2.3 JSON as Yocto's create-spdx writes a package list (spec clause 7, JSON serialisation). */
export const YOCTO_SPDX_23 = JSON.stringify({
  spdxVersion: 'SPDX-2.3',
  dataLicense: 'CC0-1.0',
  SPDXID: 'SPDXRef-DOCUMENT',
  name: 'core-image-minimal-qemux86-64',
  documentNamespace: 'http://spdx.org/spdxdoc/core-image-minimal-qemux86-64-5b8e3a1c-0000-4000-8000-000000000000',
  creationInfo: { created: '2024-05-02T10:00:00Z', creators: ['Tool: OpenEmbedded Core create-spdx.bbclass', 'Organization: OpenEmbedded ()'], licenseListVersion: '3.21' },
  documentDescribes: ['SPDXRef-Image-core-image-minimal'],
  packages: [
    {
      name: 'busybox',
      SPDXID: 'SPDXRef-Package-busybox',
      versionInfo: '1.36.1-r0',
      downloadLocation: 'NOASSERTION',
      supplier: 'Organization: OpenEmbedded ()',
      licenseDeclared: 'GPL-2.0-only & bzip2-1.0.4',
      externalRefs: [
        { referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: 'cpe:2.3:*:*:busybox:1.36.1:*:*:*:*:*:*:*' },
        { referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:yocto/core/busybox@1.36.1-r0' },
      ],
      checksums: [{ algorithm: 'SHA256', checksumValue: 'b8b9ed2b0fc5e4ab0d4d8a05c4e1bd6e3a6c2e2c64f1f7a4a1e0f5c9b1d8a6e2' }],
    },
    {
      name: 'openssl',
      SPDXID: 'SPDXRef-Package-openssl',
      versionInfo: '3.2.1',
      downloadLocation: 'NOASSERTION',
      externalRefs: [{ referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: 'cpe:2.3:a:openssl:openssl:3.2.1:*:*:*:*:*:*:*' }],
    },
  ],
  relationships: [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-Package-busybox' }],
});

/** CycloneDX 1.6 XML (bom-1.6.xsd): nested components, hashes, a CPE and a purl. */
export const CYCLONEDX_16_XML = `<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1">
  <metadata>
    <component type="firmware" bom-ref="fw">
      <name>gateway-firmware</name>
      <version>4.2.0</version>
    </component>
  </metadata>
  <components>
    <component type="library" bom-ref="pkg:generic/lwip@2.1.3">
      <name>lwip</name>
      <version>2.1.3</version>
      <hashes>
        <hash alg="SHA-256">5F6A4D6E6D1B5B2C0E8C4F2A7B9D3E1F0A2B4C6D8E0F1A3B5C7D9E1F2A4B6C8D</hash>
      </hashes>
      <cpe>cpe:2.3:a:lwip_project:lwip:2.1.3:*:*:*:*:*:*:*</cpe>
      <purl>pkg:generic/lwip@2.1.3</purl>
      <components>
        <component type="library">
          <group>org.example</group>
          <name>lwip-contrib</name>
          <version>2.1.0</version>
        </component>
      </components>
    </component>
  </components>
</bom>
`;

import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { parseSbom } from './sbom.parser';

/**
 * Fleetguard's own 62443-4-1 evidence: its SBOM, made by `npm sbom --sbom-format cyclonedx` over
 * the installed dependency tree (as CI installs it), read back by the product's own parser.
 */
describe("Fleetguard's own SBOM", () => {
  it('npm sbom (CycloneDX) of this repository is read by our parser, naming the runtime dependencies with purls', () => {
    const root = path.resolve(__dirname, '../../../..');
    const bytes = execFileSync('npm', ['sbom', '--sbom-format', 'cyclonedx', '--omit', 'dev'], { cwd: root, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
    const sbom = parseSbom(bytes);
    expect(sbom.format).toBe('cyclonedx-json');
    const purls = new Set(sbom.components.map((c) => c.purl));
    expect(purls.has('pkg:npm/fleetguard@0.1.0')).toBe(true);
    for (const dep of ['@cyclonedx/cyclonedx-library', '@secvisogram/csaf-validator-lib', 'packageurl-js', '@nestjs/typeorm', 'jose', 'aedes']) {
      const c = sbom.components.find((x) => x.purl?.startsWith(`pkg:npm/${dep.replace('@', '%40')}@`));
      expect(c).toBeDefined();
      expect(c!.version).toMatch(/^\d+\.\d+\.\d+/);
    }
    // Runtime only: the test tools are not in it.
    expect([...purls].some((p) => p?.startsWith('pkg:npm/jest@'))).toBe(false);
    expect(sbom.components.length).toBeGreaterThan(100);
  });
});

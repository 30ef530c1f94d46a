import SwaggerParser from '@apidevtools/swagger-parser';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { TestService, startTestService } from './support/service';

/** The document a generated client is made from: valid OAS 3.x, and complete. */
describe('the OpenAPI document (/docs-json)', () => {
  let s: TestService;
  let doc: any;
  beforeAll(async () => {
    s = await startTestService();
    const res = await s.api.get('/docs-json');
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(async () => s?.stop());

  const operations = () =>
    Object.entries<any>(doc.paths).flatMap(([path, ops]) => Object.entries<any>(ops).map(([method, op]) => ({ path, method, op, key: `${method.toUpperCase()} ${path}` })));

  it('is valid OpenAPI 3.x by @apidevtools/swagger-parser (schema and semantic checks)', async () => {
    expect(doc.openapi).toMatch(/^3\.0\.\d+$/);
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
  });

  it('has a response schema on every route, and a request schema on every route that takes a body', () => {
    const missing: string[] = [];
    for (const { method, op, key } of operations()) {
      const success = Object.entries<any>(op.responses).filter(([code]) => code.startsWith('2'));
      if (success.length === 0 || !success.every(([, r]) => r.content && Object.values<any>(r.content).every((c) => c.schema))) missing.push(`${key}: response`);
      if (!op.responses['4XX']?.content?.['application/json']?.schema) missing.push(`${key}: error response`);
      if (['post', 'put', 'patch'].includes(method) && !(op.requestBody?.content && Object.values<any>(op.requestBody.content).every((c) => c.schema))) {
        missing.push(`${key}: request body`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('declares exactly the path parameters of each path, and no parameter twice', () => {
    for (const { path, op, key } of operations()) {
      const template = [...path.matchAll(/{([^}]+)}/g)].map((m) => m[1]).sort();
      const params = (op.parameters ?? []) as Array<{ in: string; name: string }>;
      expect({ key, path: params.filter((p) => p.in === 'path').map((p) => p.name).sort() }).toEqual({ key, path: template });
      const ids = params.map((p) => `${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`);
      expect({ key, ids: [...new Set(ids)] }).toEqual({ key, ids });
    }
  });

  it('uses no JSON Schema 2020 keyword OAS 3.0 lacks, and describes the bearer token as an API key', () => {
    const text = JSON.stringify(doc);
    expect(text).not.toMatch(/"\$id"|"const"|"\$schema"/);
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    expect(doc.components.securitySchemes.bearer.bearerFormat).toBeUndefined();
    const upload = doc.paths['/api/v1/products/{id}/firmware'].post;
    expect(Object.keys(upload.requestBody.content)).toEqual(['application/octet-stream']);
    expect(upload.parameters.filter((p: any) => p.in === 'header')).toEqual([expect.objectContaining({ name: 'X-Firmware-Manifest', required: false })]);
  });

  // Redocly's linter (its `recommended` rules plus the ones redocly.yaml adds, with the reason for
  // each rule it turns off): offline, no telemetry, no update check.
  it('passes `redocly lint` with the repository configuration (redocly.yaml)', async () => {
    const file = path.join(s.dir, 'openapi.json');
    fs.writeFileSync(file, JSON.stringify(doc));
    const root = path.resolve(__dirname, '..');
    const run = promisify(execFile);
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
    const out = await run(process.execPath, [path.join(root, 'node_modules/@redocly/cli/bin/cli.js'), 'lint', '--config', path.join(root, 'redocly.yaml'), '--format', 'json', file], { env, cwd: root, maxBuffer: 32 << 20, timeout: 120_000 }).catch((e: { stdout?: string; stderr?: string; code?: number }) => e);
    const report = JSON.parse(String(out.stdout)) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }> };
    const shown = report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(shown).toEqual([]);
    expect(report.totals).toEqual(expect.objectContaining({ errors: 0, warnings: 0 }));
  }, 180_000);
});

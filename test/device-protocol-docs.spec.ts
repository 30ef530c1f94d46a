import * as fs from 'node:fs';
import * as path from 'node:path';
import { Parser } from '@asyncapi/parser';
import { DEVICE_PUBLISHES, DEVICE_SUBSCRIBES, TOPIC_PREFIX } from '@fleetguard/common';

const DOCS = path.resolve(__dirname, '..', 'docs');

/** docs/asyncapi.yaml is a valid AsyncAPI 3 document, and it and the device guide name the broker's real topics. */
describe('device protocol documents', () => {
  const yaml = fs.readFileSync(path.join(DOCS, 'asyncapi.yaml'), 'utf8');
  const guide = fs.readFileSync(path.join(DOCS, 'device-protocol.md'), 'utf8');

  it('docs/asyncapi.yaml parses and validates with @asyncapi/parser (no error diagnostics)', async () => {
    const { document, diagnostics } = await new Parser().parse(yaml);
    const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('/')}: ${d.message}`);
    expect(errors).toEqual([]);
    expect(document).toBeDefined();
    expect(document!.version()).toMatch(/^3\./);
    const addresses = document!.channels().all().map((c) => c.address());
    const expected = [...DEVICE_PUBLISHES, ...DEVICE_SUBSCRIBES].map((kind) => `${TOPIC_PREFIX}{deviceId}/${kind}`);
    expect([...addresses].sort()).toEqual([...expected].sort());
    const actions = Object.fromEntries(document!.operations().all().map((o) => [o.channels().all()[0].address()!.split('/').pop(), o.action()]));
    for (const kind of DEVICE_PUBLISHES) expect({ kind, action: actions[kind] }).toEqual({ kind, action: 'send' });
    for (const kind of DEVICE_SUBSCRIBES) expect({ kind, action: actions[kind] }).toEqual({ kind, action: 'receive' });
  });

  it('refuses a broken AsyncAPI document (the check can fail)', async () => {
    const { diagnostics } = await new Parser().parse(yaml.replace('action: receive', 'action: listen'));
    expect(diagnostics.some((d) => d.severity === 0)).toBe(true);
  });

  it('the device guide names every topic, the QoS, and the evidence formats being added', () => {
    for (const kind of [...DEVICE_PUBLISHES, ...DEVICE_SUBSCRIBES]) expect(guide).toContain(`${TOPIC_PREFIX}<id>/${kind}`);
    for (const word of ['QoS 1', 'tcgEventLog', 'ascii_runtime_measurements', 'psaToken', 'TPMT_SIGNATURE', 'eat_nonce', 'simpleenroll']) expect(guide).toContain(word);
  });
});

/**
 * Pure-scoring benchmark: generates N varied hardening reports (default 100,000) over the four
 * component types, with varied attestation results and declared requirements, and scores them
 * with precompiled scorers: statuses, counts and both SL-C vectors per device, best of 3 rounds.
 * Also times building every item's reason for all devices (the lazy `items`), reported apart.
 * Report generation (JSON text parsed, as devices send it) and a short warm-up are not timed;
 * schema validation of every report is timed apart.
 *
 *   node scripts/build.js && node dist/bench/score-pure.js [--devices 100000] [--seed 42] [--rounds 3]
 *
 * Prints one JSON line {devices, ms, perDeviceUs, rssMiB} and a one-line summary.
 */
import { applicableItems, COMPONENT_TYPES, createScorer, FR_KEYS, loadCatalog, loadFactRules, validateHardeningReport, type AttestationStatus, type ComponentType, type DeclaredRequirements, type HardeningReport, type ObservedFacts, type Scorer } from '@fleetguard/hardening';
import { numberArg } from './support/measure';

/** A positive integer option (node:util parseArgs, bench/support/measure.ts). */
const arg = (name: string, fallback: number): number => numberArg(name, fallback, { integer: true, min: 1 });

/** mulberry32: small, fast, seedable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Each top-level fact has a few variants: [good, weaker / bad ...]. A device picks the good one
// most of the time, a bad one sometimes and leaves the fact out sometimes. Variants are shared
// objects, so 100,000 reports stay small in memory while their combinations are all different.
const on = (keys: string[], over: Record<string, unknown> = {}) => ({ ...Object.fromEntries(keys.map((k) => [k, true])), ...over });
const VARIANTS: Record<string, unknown[]> = {
  firmwareVersion: ['2.4.1', '2.3.0', '1.9.7'],
  secureBoot: [{ enabled: true, verified: true }, { enabled: true, verified: false }, { enabled: false, verified: false }],
  debugInterfaces: [
    { jtag: 'disabled', uart: 'locked', swd: 'absent', monitored: true },
    { jtag: 'locked', uart: 'locked', swd: 'locked', monitored: false },
    { jtag: 'enabled', uart: 'enabled', swd: 'absent' },
  ],
  physicalPorts: [{ usb: 'disabled', serialConsole: 'locked', unusedDisabled: true }, { usb: 'enabled', unusedDisabled: false }],
  defaultCredentialsChanged: [true, false],
  authentication: [
    { required: true, methods: ['password', 'public-key'], feedbackObscured: true, loginBanner: true },
    { required: true, methods: ['password'], feedbackObscured: true, loginBanner: false },
    { required: false, methods: [] },
  ],
  passwordPolicy: [
    { minLength: 12, complexity: true, lockoutAfterFailures: 5, maxAgeDays: 90, appliesToAllUsers: true },
    { minLength: 8, complexity: true, lockoutAfterFailures: 10, maxAgeDays: 0 },
    { minLength: 4, complexity: false, lockoutAfterFailures: 0 },
  ],
  accounts: [on(['unique', 'mfa', 'roleBased', 'manageable'], { local: 3 }), on(['unique', 'manageable'], { local: 1, mfa: false }), { local: 1, unique: false }],
  authorization: [on(['enforced', 'allUsers', 'supervisorOverride', 'dualApproval']), on(['enforced', 'allUsers']), { enforced: false }],
  userInterface: [{ local: true, remote: true }, { local: false, remote: true }, { local: false, remote: false }],
  sessionLock: [{ enabled: true, timeoutSeconds: 600 }, { enabled: true, timeoutSeconds: 3600 }, { enabled: false }],
  remoteSessionTermination: [true, false],
  concurrentSessionLimit: [2, 0],
  services: [
    [
      { name: 'https', port: 443, protocol: 'tcp', encrypted: true },
      { name: 'mqtts', port: 8883, protocol: 'tcp', encrypted: true },
    ],
    [
      { name: 'ssh', port: 22, protocol: 'tcp', encrypted: true },
      { name: 'modbus', port: 502, protocol: 'tcp', encrypted: false },
    ],
    [
      { name: 'http', port: 80, protocol: 'tcp', encrypted: false },
      { name: 'telnet', port: 23, protocol: 'tcp', encrypted: false },
      { name: 'snmp', port: 161, protocol: 'udp', encrypted: false },
    ],
  ],
  tls: [{ versions: ['1.2', '1.3'], mutualAuth: true }, { versions: ['1.2'], mutualAuth: false }, { versions: ['1.0', '1.2'], mutualAuth: false }],
  usesPki: [true, false],
  pki: [{ chainValidation: true, revocationCheck: true }, { chainValidation: true, revocationCheck: false }],
  keyStorage: ['tpm', 'secure-element', 'software'],
  symmetricKeys: [{ uniquePerDevice: true }, { uniquePerDevice: false }],
  wireless: [{ present: true, authenticated: true, uniqueAuthentication: true }, { present: false }, { present: true, authenticated: false }],
  untrustedNetworkAccess: [{ supported: true, monitored: true, explicitApproval: true }, { supported: false }],
  mobileCode: [{ used: true, restricted: true, authenticityCheck: true }, { used: false }, { used: true, restricted: false }],
  auditLogging: [
    { ...on(['enabled', 'forwarding', 'protectedStorage', 'timestamps', 'readAccess', 'capacityWarning', 'failureAlert', 'writeOnce']), userAttribution: 'all' },
    { ...on(['enabled', 'timestamps', 'readAccess']), userAttribution: 'human' },
    { enabled: false },
  ],
  timeSync: [{ enabled: true, authenticated: true, source: 'nts.example.net' }, { enabled: true, authenticated: false, source: 'pool.ntp.org' }],
  storageEncryption: [{ enabled: true, algorithm: 'aes-256-xts' }, { enabled: true, algorithm: '3des' }, { enabled: false }],
  dataErasure: [on(['supported', 'sharedMemory', 'verified']), on(['supported'])],
  updateSignatureCheck: [true, false],
  integrityNotification: [true, false],
  tamperDetection: [true, false],
  tamperNotification: [true, false],
  malwareProtection: [true, false],
  malwareProtectionVersion: ['1.8.0', '1.2.3'],
  securitySelfTest: [on(['supported', 'duringOperation']), on(['supported'])],
  inputValidation: [true, false],
  connectsToProcess: [true, false],
  deterministicOutputs: [true, false],
  secureErrorHandling: [true, false],
  rootsOfTrust: [on(['supplierProvisioned', 'ownerProvisionable']), { supplierProvisioned: true, ownerProvisionable: false }],
  networkSegmentation: [true, false],
  networkBoundary: [on(['zoneBoundary', 'filtering', 'denyByDefault', 'islandMode', 'failClose', 'personToPersonBlocked']), { zoneBoundary: false }],
  continuousMonitoring: [true, false],
  dosProtection: [{ enabled: true, rateLimiting: true }, { enabled: true, rateLimiting: false }],
  resourceLimits: [true, false],
  backupRestore: [on(['backup', 'restore', 'verified']), on(['backup', 'restore'])],
  securityBaselineApplied: [true, false],
  softwareInventory: [true, false],
};
const KEYS = Object.keys(VARIANTS);
const ATTESTATIONS: [AttestationStatus, number][] = [
  ['affirming', 0.7],
  ['warning', 0.08],
  ['contraindicated', 0.04],
  ['stale', 0.08],
  ['none', 0.1],
];

/** A product: its component type, the facts its firmware reports and the requirements it declares. */
interface Product {
  type: ComponentType;
  keys: string[];
  declaredShare: number;
}
const PRODUCTS = 32;

function products(r: () => number): Product[] {
  return Array.from({ length: PRODUCTS }, (_, p) => ({
    type: COMPONENT_TYPES[p % 4],
    keys: KEYS.filter(() => r() >= 0.08), // each firmware reports most facts, not all
    declaredShare: (p % 8) / 8,
  }));
}

interface Device {
  product: number;
  facts: HardeningReport;
  attestation: AttestationStatus;
  /** The release the appraisal attested: the reported one for most devices, another for some. */
  attestedFirmware: string | undefined;
  /** What the service saw itself (one of a few shapes). */
  observed: ObservedFacts;
}

/** Observation shapes a fleet shows: MQTT over TLS 1.3 with the Fleetguard certificate, some with a TPM, a few on TLS 1.2 or never connected. */
const OBSERVED: readonly ObservedFacts[] = [
  { hardeningReport: true, mutualTls: true, fleetguardCertificate: true, tlsVersions: ['1.3'], aeadCiphers: true },
  { hardeningReport: true, mutualTls: true, fleetguardCertificate: true, tlsVersions: ['1.3'], aeadCiphers: true, tpmResidentKey: true, firmwareUpdated: true },
  { hardeningReport: true, mutualTls: true, fleetguardCertificate: true, certificateRenewed: true, tlsVersions: ['1.2'], aeadCiphers: true },
  { hardeningReport: true, fleetguardCertificate: true },
];

function generate(n: number, r: () => number, catalogProducts: Product[]): Device[] {
  const out: Device[] = new Array(n);
  for (let d = 0; d < n; d++) {
    const product = Math.floor(r() * PRODUCTS);
    const facts: Record<string, unknown> = { schemaVersion: 1 };
    if (r() < 0.5) facts.reportedAt = '2025-06-01T12:00:00Z';
    // Per device, how well kept it is: 0.55 .. 0.97 chance that a fact is in its good state.
    const care = 0.55 + 0.42 * r();
    for (const k of catalogProducts[product].keys) {
      const x = r();
      if (x < 0.01) continue; // an older firmware that does not report this fact
      const vs = VARIANTS[k];
      facts[k] = x < care || vs.length === 1 ? vs[0] : vs[1 + Math.floor(r() * (vs.length - 1))];
    }
    let a = r();
    let attestation: AttestationStatus = 'none';
    for (const [status, p] of ATTESTATIONS) {
      if ((a -= p) < 0) {
        attestation = status;
        break;
      }
    }
    const attestedFirmware = r() < 0.9 ? (facts.firmwareVersion as string | undefined) : '0.0.1';
    const observed = OBSERVED[Math.floor(r() * OBSERVED.length)];
    // Reports arrive as JSON; parsing gives each its own objects, as in the service.
    out[d] = { product, facts: JSON.parse(JSON.stringify(facts)) as HardeningReport, attestation, attestedFirmware, observed };
  }
  return out;
}

function main(): void {
  const devices = arg('devices', 100_000);
  const seed = arg('seed', 42);
  const catalog = loadCatalog();
  const rules = loadFactRules();
  const r = rng(seed);
  const scorers = {} as Record<ComponentType, Scorer>;
  for (const t of COMPONENT_TYPES) scorers[t] = createScorer(catalog, rules, t);
  const catalogProducts = products(r);
  const declared: DeclaredRequirements[] = catalogProducts.map((p) =>
    scorers[p.type].declare(applicableItems(catalog, p.type).map((i) => i.id).filter(() => r() < p.declaredShare)),
  );

  const reports = generate(devices, r, catalogProducts);
  // Every report goes through the schema first, as in the service (timed apart).
  const v0 = process.hrtime.bigint();
  for (const d of reports) d.facts = validateHardeningReport(d.facts);
  const validateMs = Number(process.hrtime.bigint() - v0) / 1e6;

  const score = (d: Device) =>
    scorers[catalogProducts[d.product].type]({
      facts: d.facts,
      attestation: { status: d.attestation, firmwareVersion: d.attestedFirmware },
      observed: d.observed,
      declared: declared[d.product],
    });
  for (let i = 0; i < Math.min(2000, devices); i++) score(reports[i]); // warm-up, not timed

  // Scoring proper: statuses, counts and both vectors for every device. Best of `rounds` runs,
  // because the machine may be shared; every run's time is in the summary.
  const rounds = arg('rounds', 3);
  const frKeys = [...FR_KEYS]; // a local copy: the module binding is a getter in CommonJS
  const sums = { evidenced: new Float64Array(7), declared: new Float64Array(7) };
  let contradicted = 0;
  const runs: { ms: number; cpuMs: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    sums.evidenced.fill(0);
    sums.declared.fill(0);
    contradicted = 0;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < devices; i++) {
      const s = score(reports[i]);
      for (let f = 0; f < 7; f++) {
        sums.evidenced[f] += s.evidenced[frKeys[f]];
        sums.declared[f] += s.declared[frKeys[f]];
      }
      contradicted += s.counts.contradicted;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(c0);
    runs.push({ ms, cpuMs: (cpu.user + cpu.system) / 1000 });
  }
  const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
  const rssMiB = process.memoryUsage().rss / 2 ** 20;

  // The same devices with every item's reason and deciding facts built (what a device page shows).
  const d0 = process.hrtime.bigint();
  let reasons = 0;
  for (let i = 0; i < devices; i++) reasons += score(reports[i]).items.length;
  const detailMs = Number(process.hrtime.bigint() - d0) / 1e6;

  const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
  process.stdout.write(
    `${JSON.stringify({ devices, ms: round(best.ms), perDeviceUs: round((best.ms * 1000) / devices, 2), rssMiB: round(rssMiB) })}\n`,
  );
  const mean = (a: Float64Array) => Array.from(a, (x) => round(x / devices, 2)).join('/');
  process.stdout.write(
    `scored ${devices} devices (${PRODUCTS} products over ${COMPONENT_TYPES.join('/')}) in ${round(best.ms)} ms ` +
      `= ${round((best.ms * 1000) / devices, 2)} µs/device (best of ${runs.map((r) => `${round(r.ms)}`).join('/')} ms wall, ` +
      `cpu ${round(best.cpuMs)} ms), rss ${round(rssMiB)} MiB; schema validation ${round(validateMs)} ms; ` +
      `with all ${reasons} item reasons built ${round(detailMs)} ms; ` +
      `mean SL-C FR1..FR7 evidenced ${mean(sums.evidenced)}, declared ${mean(sums.declared)}; ` +
      `${round(contradicted / devices, 1)} contradicted items/device\n`,
  );
}

if (require.main === module) main();

export { generate, products, rng, VARIANTS };

import { createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { AppraisalPorts, DeviceAppraisalRecord, FirmwareReleaseRecord, NonceState } from '../appraisal.pipeline';
import { newNonce } from '../nonce';
import { buildEvidence, BuildEvidenceOptions, sampleBootEvents, sha256Hex } from '@fleetguard/device-kit';
import { BootEvent } from '../event-log.replay';

/**
 * A device, its product's firmware release with reference values, and in-memory ports that
 * behave like the real stores (single-use, expiring nonces). For unit tests and benchmarks.
 */

export interface MemoryNonceStore {
  issue(deviceId: string, ttlSeconds?: number): string;
  /** Issues a nonce that is already past its expiry. */
  issueExpired(deviceId: string): string;
  /** How a nonce stands for a device, without using it (the port's peekNonce, as the service's store answers). */
  peek(deviceId: string, nonce: string): NonceState;
  /** Whether a nonce was used. */
  isUsed(nonce: string): boolean;
}

export interface AppraisalScenario {
  deviceId: string;
  productId: string;
  deviceKey: KeyObject;
  device: DeviceAppraisalRecord;
  fw: { productId: string; version: string; digest: string; securityCounter: number };
  events: BootEvent[];
  releases: Map<string, FirmwareReleaseRecord>;
  productMinimum: { value: number };
  nonces: MemoryNonceStore;
  ports: AppraisalPorts & { calls: string[] };
  /** Evidence for a freshly issued nonce, defaults from the scenario; override anything. */
  evidence(overrides?: Partial<BuildEvidenceOptions>): Promise<string>;
}

export function createAppraisalScenario(options: { deviceKey?: KeyObject; now?: () => Date } = {}): AppraisalScenario {
  const now = options.now ?? (() => new Date());
  const deviceId = 'dev-0001';
  const productId = 'prod-plc-7';
  const deviceKey = options.deviceKey ?? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const events = sampleBootEvents();
  const fw = { productId, version: '2.4.1', digest: sha256Hex('firmware image 2.4.1'), securityCounter: 7 };
  const device: DeviceAppraisalRecord = {
    deviceId,
    productId,
    publicKey: createPublicKey(deviceKey).export({ type: 'spki', format: 'pem' }) as string,
    certificateStatus: 'valid',
    akPublicKey: null,
    lastSecurityCounter: 6,
  };
  const releases = new Map<string, FirmwareReleaseRecord>([
    [fw.version, { digest: `sha256:${fw.digest}`, securityCounter: 7, status: 'trusted', referenceValues: { events: sampleBootEvents() } }],
  ]);
  const productMinimum = { value: 5 };
  const issued = new Map<string, { deviceId: string; expiresAt: Date; used: boolean }>();
  const calls: string[] = [];
  const nonces: MemoryNonceStore = {
    issue(id, ttl = 60) {
      const c = newNonce(ttl, now());
      issued.set(c.nonce, { deviceId: id, expiresAt: c.expiresAt, used: false });
      return c.nonce;
    },
    issueExpired(id) {
      const c = newNonce(1, new Date(now().getTime() - 10_000));
      issued.set(c.nonce, { deviceId: id, expiresAt: c.expiresAt, used: false });
      return c.nonce;
    },
    peek(id, nonce) {
      const entry = issued.get(nonce);
      if (!entry || entry.deviceId !== id) return 'unknown';
      if (entry.used) return 'used';
      return entry.expiresAt.getTime() < now().getTime() ? 'expired' : 'ok';
    },
    isUsed: (nonce) => issued.get(nonce)?.used === true,
  };
  const ports: AppraisalScenario['ports'] = {
    calls,
    async findDevice(id) {
      calls.push(`findDevice:${id}`);
      return id === device.deviceId ? device : null;
    },
    async consumeNonce(id, nonce): Promise<NonceState> {
      calls.push('consumeNonce');
      const entry = issued.get(nonce);
      if (!entry || entry.deviceId !== id) return 'unknown';
      if (entry.used) return 'used';
      entry.used = true;
      return entry.expiresAt.getTime() < now().getTime() ? 'expired' : 'ok';
    },
    async findRelease(pid, version) {
      calls.push(`findRelease:${version}`);
      return pid === productId ? releases.get(version) ?? null : null;
    },
    async minimumSecurityCounter() {
      return productMinimum.value;
    },
  };
  const scenario: AppraisalScenario = {
    deviceId,
    productId,
    deviceKey,
    device,
    fw,
    events,
    releases,
    productMinimum,
    nonces,
    ports,
    evidence: (overrides = {}) =>
      buildEvidence({ deviceKey, deviceId, nonce: overrides.nonce ?? nonces.issue(deviceId), fw, events, ...overrides }),
  };
  return scenario;
}

import { z } from 'zod';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';

/**
 * Service configuration, read once at boot from the environment and validated. This module is
 * the only reader of `process.env` in the service (see STYLE.md). A malformed value or an unknown
 * FLEETGUARD_* variable stops the service with a message naming it.
 */
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const schema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  FLEETGUARD_ENV: z.enum(['development', 'production', 'test']).default('development'),
  FLEETGUARD_DATA_DIR: z.string().min(1).default('./data'),
  FLEETGUARD_CERTS_DIR: z.string().min(1).default('./certs'),
  FLEETGUARD_BIND: z.string().min(1).default('0.0.0.0'),
  FLEETGUARD_HTTP_PORT: port.default(3000),
  FLEETGUARD_DEVICE_PORT: port.default(8443),
  FLEETGUARD_MQTT_PORT: port.default(8883),
  /** Plain-text MQTT is off unless a port is given (development only). */
  FLEETGUARD_MQTT_PLAIN_PORT: port.optional(),
  FLEETGUARD_PUBLIC_URL: z.string().url().optional(),
  FLEETGUARD_ADMIN_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  FLEETGUARD_CA_PASSPHRASE: z
    .string()
    .min(16, 'must be at least 16 characters (it protects the CA and verifier keys; PBKDF2 cannot make a short passphrase strong)')
    .optional(),
  FLEETGUARD_CERT_VALIDITY_DAYS: positiveInt.max(3650).default(90),
  FLEETGUARD_RENEWAL_GRACE_DAYS: z.coerce.number().int().min(0).max(365).default(7),
  FLEETGUARD_CRL_VALIDITY_HOURS: positiveInt.max(24 * 30).default(24),
  FLEETGUARD_RSA_MIN_BITS: z.coerce.number().int().min(2048).max(16384).default(2048),
  FLEETGUARD_NONCE_TTL_SECONDS: positiveInt.max(3600).default(120),
  FLEETGUARD_EAR_FORM: z.enum(['draft', 'veraison']).default('draft'),
  FLEETGUARD_ATTEST_INTERVAL_SECONDS: positiveInt.default(300),
  /** A hardening report older than this no longer counts as evidence (SPEC: evidence-graded scoring). */
  FLEETGUARD_MAX_REPORT_AGE_SECONDS: z.coerce.number().int().min(60).max(366 * 86400).default(7 * 86400),
  FLEETGUARD_MQTT_MAX_PAYLOAD: positiveInt.max(16 * 1024 * 1024).default(64 * 1024),
  /** New MQTT connections a second this instance starts a TLS handshake for (burst: one second's worth); more wait (below) or are closed before TLS. */
  FLEETGUARD_MQTT_CONNECT_RATE: positiveInt.max(1_000_000).default(500),
  /** MQTT TLS handshakes in progress at once; a connection beyond it waits for a slot (below) or is closed before TLS. */
  FLEETGUARD_MQTT_MAX_HANDSHAKES: positiveInt.max(100_000).default(64),
  /** MQTT connections that may wait (not read from, no TLS yet) for a handshake slot or the rate; 0: none, refused at once. */
  FLEETGUARD_MQTT_HANDSHAKE_QUEUE: z.coerce.number().int().min(0).max(1_000_000).default(2000),
  /** How long a connection may wait for a handshake slot before it is closed (the device protocol asks devices to give the handshake 15 s). */
  FLEETGUARD_MQTT_HANDSHAKE_WAIT_SECONDS: positiveInt.max(60).default(5),
  /**
   * TLS session tickets on the MQTT listener (resumption for devices that keep one). Off by
   * default: issuing the two TLS 1.3 tickets was a sixth of the broker's CPU per connect in a
   * reconnect storm (OpenSSL serialises the session with the device's certificate and decodes it
   * again), and a ticket cannot be used after a restart or on another instance (each instance's
   * ticket key is its own and random), the two cases a storm comes from.
   */
  FLEETGUARD_MQTT_TLS_TICKETS: bool.default(false),
  /** Open MQTT connections this instance holds; beyond it a new connection is closed (the process's open-file limit bounds it too). */
  FLEETGUARD_MQTT_MAX_CONNECTIONS: positiveInt.max(10_000_000).default(50_000),
  FLEETGUARD_HTTP_MAX_BODY: positiveInt.default(1024 * 1024),
  /** Slow clients on the HTTP listeners: headers within this, the whole request within the next, a body at least this many bytes/s. */
  FLEETGUARD_HTTP_HEADERS_TIMEOUT_SECONDS: positiveInt.max(300).default(10),
  FLEETGUARD_HTTP_REQUEST_TIMEOUT_SECONDS: positiveInt.max(3600).default(120),
  FLEETGUARD_HTTP_MIN_BODY_RATE: z.coerce.number().int().min(0).max(1024 * 1024 * 1024).default(1024),
  FLEETGUARD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FLEETGUARD_PRETTY_LOGS: bool.default(false),
  /** Webhook receivers allowed although internal (loopback, private, ...): host names, IPs or CIDRs, comma-separated. */
  FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: z.string().default(''),
  /** How long a webhook delivery is retried (from the event) before it is dead-lettered. */
  FLEETGUARD_WEBHOOK_RETRY_HORIZON_SECONDS: z.coerce.number().int().min(1).max(30 * 86400).default(8 * 3600),
  /** First retry delay; each further one doubles (with ±25 % jitter) up to the maximum. */
  FLEETGUARD_WEBHOOK_BACKOFF_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(1000),
  FLEETGUARD_WEBHOOK_BACKOFF_MAX_SECONDS: z.coerce.number().int().min(1).max(86400).default(1800),
  /** One attempt's time limit (connect, send, response headers). */
  FLEETGUARD_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** Attempts in flight at once: per receiver (scheme, host and port) and in all. */
  FLEETGUARD_WEBHOOK_CONCURRENCY_PER_RECEIVER: z.coerce.number().int().min(1).max(100).default(4),
  FLEETGUARD_WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(32),
  /** Consecutive failures that open a receiver's circuit breaker, and how long it stays open before one probe. */
  FLEETGUARD_WEBHOOK_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  FLEETGUARD_WEBHOOK_BREAKER_OPEN_SECONDS: z.coerce.number().min(0.1).max(86400).default(30),
  /** Delivered and dead deliveries are kept this long (the API lists them), then deleted. */
  FLEETGUARD_WEBHOOK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(14),
  /** Key material for webhook secrets at rest (AES-256-GCM); default: derived from FLEETGUARD_CA_PASSPHRASE. */
  FLEETGUARD_WEBHOOK_SECRET_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** /metrics without a key (for a scraper on a trusted network); else an admin or auditor key. */
  FLEETGUARD_METRICS_PUBLIC: bool.default(false),
  /** Comma-separated DNS names and IP addresses of the device listener's and broker's TLS certificate. */
  FLEETGUARD_SERVER_NAMES: z.string().min(1).optional(),
  /** PEM files of a TLS certificate (leaf first, chain after) and its key, brought by the operator. */
  FLEETGUARD_SERVER_CERT: z.string().min(1).optional(),
  FLEETGUARD_SERVER_KEY: z.string().min(1).optional(),
  /** The CA keys in a PKCS#11 token: library path, token label, user PIN (or a file holding it), issuing key label. */
  FLEETGUARD_CA_PKCS11_MODULE: z.string().min(1).optional(),
  FLEETGUARD_CA_PKCS11_TOKEN: z.string().min(1).max(32).optional(),
  FLEETGUARD_CA_PKCS11_PIN: z.string().min(4).optional(),
  FLEETGUARD_CA_PKCS11_PIN_FILE: z.string().min(1).optional(),
  FLEETGUARD_CA_PKCS11_KEY_LABEL: z.string().min(1).max(64).optional(),
  /** Evidence waiting for appraisal in this process; beyond it MQTT evidence is not acknowledged and HTTP gets 503. */
  FLEETGUARD_APPRAISAL_QUEUE_MAX: positiveInt.max(1_000_000).default(2000),
  FLEETGUARD_APPRAISAL_CONCURRENCY: positiveInt.max(1024).default(256),
  /** MQTT evidence finding the queue full waits this long for a place before it is shed (0: shed at once). */
  FLEETGUARD_APPRAISAL_ADMISSION_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  /** How long a claimant holds an inbox row before another may take it over. */
  FLEETGUARD_APPRAISAL_LEASE_SECONDS: positiveInt.max(3600).default(30),
  /** Appraised inbox rows are removed after this many hours (the evidence stays with its result); a redelivery within it gets the stored result. */
  FLEETGUARD_INBOX_RETENTION_HOURS: positiveInt.max(8760).default(24),
  /** Per device: evidence, challenges and hardening reports a minute (each counted separately), with a burst of twice that. */
  FLEETGUARD_DEVICE_RATE_PER_MINUTE: positiveInt.max(100_000).default(120),
  /** Rescores and exposure recomputes after attestation results gather this long before they run as one batch (0: at once). */
  FLEETGUARD_FOLLOWUP_WINDOW_MS: z.coerce.number().int().min(0).max(10_000).default(25),
  /** Several instances on one fleet: their brokers join through this Redis (requires DATABASE_URL). */
  FLEETGUARD_REDIS_URL: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL').optional(),
});

export interface AppConfig {
  env: 'development' | 'production' | 'test';
  databaseUrl?: string;
  dataDir: string;
  certsDir: string;
  bind: string;
  httpPort: number;
  devicePort: number;
  mqttPort: number;
  mqttPlainPort?: number;
  publicUrl?: string;
  /** Secret: never logged. */
  adminKey?: string;
  /** Secret: never logged. */
  caPassphrase?: string;
  certValidityDays: number;
  renewalGraceDays: number;
  crlValidityHours: number;
  rsaMinBits: number;
  nonceTtlSeconds: number;
  /** EAR labels: draft-ietf-rats-ear-04 (`ear_status`, ...) or veraison/ear's (`ear.status`, ...). */
  earForm: 'draft' | 'veraison';
  attestIntervalSeconds: number;
  /** A hardening report older than this does not count as evidence. */
  maxReportAgeSeconds: number;
  mqttMaxPayload: number;
  mqttConnectRate: number;
  mqttMaxHandshakes: number;
  mqttHandshakeQueue: number;
  mqttHandshakeWaitSeconds: number;
  mqttTlsTickets: boolean;
  mqttMaxConnections: number;
  httpMaxBody: number;
  /** Slow-client limits of the operator and device HTTP listeners. */
  httpHeadersTimeoutSeconds: number;
  httpRequestTimeoutSeconds: number;
  /** Bytes per second a request body must keep (10 s windows); 0: not checked. */
  httpMinBodyRate: number;
  logLevel: string;
  prettyLogs: boolean;
  webhookAllowedHosts: string[];
  /** Webhook outbox: retry horizon, backoff, time limit, concurrency, breaker, retention. */
  webhook: {
    retryHorizonSeconds: number;
    backoffBaseMs: number;
    backoffMaxSeconds: number;
    timeoutMs: number;
    concurrencyPerReceiver: number;
    concurrency: number;
    breakerFailures: number;
    breakerOpenSeconds: number;
    retentionDays: number;
  };
  /** Secret: never logged. Key material for webhook secrets at rest. */
  webhookSecretKey?: string;
  metricsPublic: boolean;
  /** Names for the generated device-listener/broker certificate (default localhost, fleetguard, 127.0.0.1, ::1). */
  serverNames: { dnsNames: string[]; ipAddresses: string[] };
  /** An operator's TLS certificate for the device listener and broker, checked at boot. The key is secret: never logged. */
  serverCertificate?: { certPem: string; keyPem: string; certFile: string; keyFile: string };
  /** The CA keys in a PKCS#11 token instead of encrypted files. The PIN is secret: never logged. */
  caPkcs11?: { module: string; tokenLabel: string; pin: string; keyLabel: string };
  appraisalQueueMax: number;
  appraisalConcurrency: number;
  appraisalAdmissionWaitMs: number;
  appraisalLeaseSeconds: number;
  inboxRetentionHours: number;
  deviceRatePerMinute: number;
  /** FLEETGUARD_FOLLOWUP_WINDOW_MS: how long a result's follow-ups (rescore, exposure) gather before their batch runs. */
  followupWindowMs: number;
  /** Set: this instance is one of several serving the fleet (brokers joined through Redis). Secret (may hold a password): never logged. */
  redisUrl?: string;
}

export const DEFAULT_SERVER_NAMES = { dnsNames: ['localhost', 'fleetguard'], ipAddresses: ['127.0.0.1', '::1'] };
const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** FLEETGUARD_SERVER_NAMES: each entry an IP address (v4 dotted, v6 hex) or an LDH host name (no wildcard). */
function parseServerNames(value: string, problems: string[]): AppConfig['serverNames'] {
  const out = { dnsNames: [] as string[], ipAddresses: [] as string[] };
  for (const raw of value.split(',')) {
    const name = raw.trim();
    if (isIP(name) === 4 || (isIP(name) === 6 && !name.includes('.'))) out.ipAddresses.push(name);
    else if (name.length > 0 && name.length <= 253 && name.split('.').every((l) => DNS_LABEL.test(l))) out.dnsNames.push(name.toLowerCase());
    else problems.push(`FLEETGUARD_SERVER_NAMES: ${JSON.stringify(name)} is neither a DNS host name nor an IP address`);
  }
  return out;
}

/** Reads and checks the operator's server certificate and key: PEM, not expired, the key matching the first certificate. */
function loadServerCertificate(certFile: string, keyFile: string, problems: string[]): AppConfig['serverCertificate'] {
  const read = (file: string, variable: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      problems.push(`${variable}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return undefined;
    }
  };
  const certPem = read(certFile, 'FLEETGUARD_SERVER_CERT');
  const keyPem = read(keyFile, 'FLEETGUARD_SERVER_KEY');
  if (certPem === undefined || keyPem === undefined) return undefined;
  const blocks = certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  let leaf: X509Certificate;
  try {
    if (!blocks.length) throw new Error('no PEM CERTIFICATE block');
    leaf = new X509Certificate(blocks[0]!);
    blocks.slice(1).forEach((b) => new X509Certificate(b));
  } catch (e) {
    problems.push(`FLEETGUARD_SERVER_CERT: ${certFile} is not a PEM certificate (${(e as Error).message})`);
    return undefined;
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    problems.push(`FLEETGUARD_SERVER_KEY: ${keyFile} is not an unencrypted PEM private key (${(e as Error).message})`);
    return undefined;
  }
  const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(keySpki)) {
    problems.push(`FLEETGUARD_SERVER_KEY: the key in ${keyFile} does not match the certificate in ${certFile}`);
    return undefined;
  }
  const now = Date.now();
  if (new Date(leaf.validTo).getTime() <= now) problems.push(`FLEETGUARD_SERVER_CERT: the certificate in ${certFile} expired on ${leaf.validTo}`);
  if (new Date(leaf.validFrom).getTime() > now) problems.push(`FLEETGUARD_SERVER_CERT: the certificate in ${certFile} is not valid before ${leaf.validFrom}`);
  return { certPem, keyPem, certFile, keyFile };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const KNOWN = new Set(Object.keys(schema.shape));

export function parseConfig(env: Record<string, string | undefined>): AppConfig {
  const problems: string[] = [];
  const input: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k === 'DATABASE_URL' || k.startsWith('FLEETGUARD_')) {
      if (!KNOWN.has(k)) problems.push(`${k}: unknown variable (known: ${[...KNOWN].join(', ')})`);
      else if (v !== undefined && v !== '') input[k] = v;
    }
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const c = parsed.data!;
  const serverNames = c.FLEETGUARD_SERVER_NAMES ? parseServerNames(c.FLEETGUARD_SERVER_NAMES, problems) : DEFAULT_SERVER_NAMES;
  let serverCertificate: AppConfig['serverCertificate'];
  if (!c.FLEETGUARD_SERVER_CERT !== !c.FLEETGUARD_SERVER_KEY) {
    problems.push('FLEETGUARD_SERVER_CERT and FLEETGUARD_SERVER_KEY: give both or neither');
  } else if (c.FLEETGUARD_SERVER_CERT && c.FLEETGUARD_SERVER_NAMES) {
    problems.push('FLEETGUARD_SERVER_NAMES: not used with FLEETGUARD_SERVER_CERT (the brought certificate carries its names); give one or the other');
  } else if (c.FLEETGUARD_SERVER_CERT && c.FLEETGUARD_SERVER_KEY) {
    serverCertificate = loadServerCertificate(path.resolve(c.FLEETGUARD_SERVER_CERT), path.resolve(c.FLEETGUARD_SERVER_KEY), problems);
  }
  let caPkcs11: AppConfig['caPkcs11'];
  const p11 = [c.FLEETGUARD_CA_PKCS11_MODULE, c.FLEETGUARD_CA_PKCS11_TOKEN, c.FLEETGUARD_CA_PKCS11_KEY_LABEL, c.FLEETGUARD_CA_PKCS11_PIN, c.FLEETGUARD_CA_PKCS11_PIN_FILE];
  if (p11.some((v) => v !== undefined)) {
    for (const [name, v] of [['FLEETGUARD_CA_PKCS11_MODULE', c.FLEETGUARD_CA_PKCS11_MODULE], ['FLEETGUARD_CA_PKCS11_TOKEN', c.FLEETGUARD_CA_PKCS11_TOKEN], ['FLEETGUARD_CA_PKCS11_KEY_LABEL', c.FLEETGUARD_CA_PKCS11_KEY_LABEL]] as const) {
      if (v === undefined) problems.push(`${name}: required with the other FLEETGUARD_CA_PKCS11_* settings`);
    }
    let pin = c.FLEETGUARD_CA_PKCS11_PIN;
    if ((pin === undefined) === (c.FLEETGUARD_CA_PKCS11_PIN_FILE === undefined)) {
      problems.push('FLEETGUARD_CA_PKCS11_PIN and FLEETGUARD_CA_PKCS11_PIN_FILE: give exactly one');
    } else if (c.FLEETGUARD_CA_PKCS11_PIN_FILE !== undefined) {
      try {
        pin = fs.readFileSync(path.resolve(c.FLEETGUARD_CA_PKCS11_PIN_FILE), 'utf8').trim();
        if (!pin) problems.push(`FLEETGUARD_CA_PKCS11_PIN_FILE: ${c.FLEETGUARD_CA_PKCS11_PIN_FILE} is empty`);
      } catch (e) {
        problems.push(`FLEETGUARD_CA_PKCS11_PIN_FILE: cannot read ${c.FLEETGUARD_CA_PKCS11_PIN_FILE} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    if (c.FLEETGUARD_CA_PKCS11_MODULE && !fs.existsSync(c.FLEETGUARD_CA_PKCS11_MODULE)) problems.push(`FLEETGUARD_CA_PKCS11_MODULE: no file ${c.FLEETGUARD_CA_PKCS11_MODULE}`);
    if (!problems.length) caPkcs11 = { module: c.FLEETGUARD_CA_PKCS11_MODULE!, tokenLabel: c.FLEETGUARD_CA_PKCS11_TOKEN!, pin: pin!, keyLabel: c.FLEETGUARD_CA_PKCS11_KEY_LABEL! };
  }
  if (c.FLEETGUARD_REDIS_URL) {
    if (!c.DATABASE_URL) problems.push('FLEETGUARD_REDIS_URL: requires DATABASE_URL (instances coordinate through one PostgreSQL; the embedded database serves one process)');
    if (!c.FLEETGUARD_PUBLIC_URL) problems.push('FLEETGUARD_REDIS_URL: requires FLEETGUARD_PUBLIC_URL (the fleet\'s address, e.g. the load balancer, named in the CA\'s CRL and OCSP URLs that every instance shares)');
  }
  if (problems.length) throw new ConfigError(problems);
  if (c.FLEETGUARD_ENV === 'production' && !c.FLEETGUARD_CA_PASSPHRASE && !caPkcs11) {
    throw new ConfigError(['FLEETGUARD_CA_PASSPHRASE: required when FLEETGUARD_ENV=production']);
  }
  return {
    env: c.FLEETGUARD_ENV,
    databaseUrl: c.DATABASE_URL,
    dataDir: path.resolve(c.FLEETGUARD_DATA_DIR),
    certsDir: path.resolve(c.FLEETGUARD_CERTS_DIR),
    bind: c.FLEETGUARD_BIND,
    httpPort: c.FLEETGUARD_HTTP_PORT,
    devicePort: c.FLEETGUARD_DEVICE_PORT,
    mqttPort: c.FLEETGUARD_MQTT_PORT,
    mqttPlainPort: c.FLEETGUARD_MQTT_PLAIN_PORT,
    publicUrl: c.FLEETGUARD_PUBLIC_URL?.replace(/\/$/, ''),
    adminKey: c.FLEETGUARD_ADMIN_KEY,
    caPassphrase: c.FLEETGUARD_CA_PASSPHRASE,
    certValidityDays: c.FLEETGUARD_CERT_VALIDITY_DAYS,
    renewalGraceDays: c.FLEETGUARD_RENEWAL_GRACE_DAYS,
    crlValidityHours: c.FLEETGUARD_CRL_VALIDITY_HOURS,
    rsaMinBits: c.FLEETGUARD_RSA_MIN_BITS,
    nonceTtlSeconds: c.FLEETGUARD_NONCE_TTL_SECONDS,
    earForm: c.FLEETGUARD_EAR_FORM,
    attestIntervalSeconds: c.FLEETGUARD_ATTEST_INTERVAL_SECONDS,
    maxReportAgeSeconds: c.FLEETGUARD_MAX_REPORT_AGE_SECONDS,
    mqttMaxPayload: c.FLEETGUARD_MQTT_MAX_PAYLOAD,
    mqttConnectRate: c.FLEETGUARD_MQTT_CONNECT_RATE,
    mqttMaxHandshakes: c.FLEETGUARD_MQTT_MAX_HANDSHAKES,
    mqttHandshakeQueue: c.FLEETGUARD_MQTT_HANDSHAKE_QUEUE,
    mqttHandshakeWaitSeconds: c.FLEETGUARD_MQTT_HANDSHAKE_WAIT_SECONDS,
    mqttTlsTickets: c.FLEETGUARD_MQTT_TLS_TICKETS,
    mqttMaxConnections: c.FLEETGUARD_MQTT_MAX_CONNECTIONS,
    httpMaxBody: c.FLEETGUARD_HTTP_MAX_BODY,
    httpHeadersTimeoutSeconds: c.FLEETGUARD_HTTP_HEADERS_TIMEOUT_SECONDS,
    httpRequestTimeoutSeconds: c.FLEETGUARD_HTTP_REQUEST_TIMEOUT_SECONDS,
    httpMinBodyRate: c.FLEETGUARD_HTTP_MIN_BODY_RATE,
    logLevel: c.FLEETGUARD_LOG_LEVEL,
    prettyLogs: c.FLEETGUARD_PRETTY_LOGS,
    metricsPublic: c.FLEETGUARD_METRICS_PUBLIC,
    webhookAllowedHosts: c.FLEETGUARD_WEBHOOK_ALLOWED_HOSTS.split(',').map((h) => h.trim()).filter(Boolean),
    webhook: {
      retryHorizonSeconds: c.FLEETGUARD_WEBHOOK_RETRY_HORIZON_SECONDS,
      backoffBaseMs: c.FLEETGUARD_WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxSeconds: c.FLEETGUARD_WEBHOOK_BACKOFF_MAX_SECONDS,
      timeoutMs: c.FLEETGUARD_WEBHOOK_TIMEOUT_MS,
      concurrencyPerReceiver: c.FLEETGUARD_WEBHOOK_CONCURRENCY_PER_RECEIVER,
      concurrency: c.FLEETGUARD_WEBHOOK_CONCURRENCY,
      breakerFailures: c.FLEETGUARD_WEBHOOK_BREAKER_FAILURES,
      breakerOpenSeconds: c.FLEETGUARD_WEBHOOK_BREAKER_OPEN_SECONDS,
      retentionDays: c.FLEETGUARD_WEBHOOK_RETENTION_DAYS,
    },
    webhookSecretKey: c.FLEETGUARD_WEBHOOK_SECRET_KEY,
    serverNames,
    serverCertificate,
    caPkcs11,
    appraisalQueueMax: c.FLEETGUARD_APPRAISAL_QUEUE_MAX,
    appraisalConcurrency: c.FLEETGUARD_APPRAISAL_CONCURRENCY,
    appraisalAdmissionWaitMs: c.FLEETGUARD_APPRAISAL_ADMISSION_WAIT_MS,
    appraisalLeaseSeconds: c.FLEETGUARD_APPRAISAL_LEASE_SECONDS,
    inboxRetentionHours: c.FLEETGUARD_INBOX_RETENTION_HOURS,
    deviceRatePerMinute: c.FLEETGUARD_DEVICE_RATE_PER_MINUTE,
    followupWindowMs: c.FLEETGUARD_FOLLOWUP_WINDOW_MS,
    redisUrl: c.FLEETGUARD_REDIS_URL,
  };
}

/** What may be printed of the configuration: secrets are marked, never shown. */
export function redactConfig(c: AppConfig): Record<string, unknown> {
  return { ...c, adminKey: c.adminKey ? '<set>' : undefined, caPassphrase: c.caPassphrase ? '<set>' : undefined, webhookSecretKey: c.webhookSecretKey ? '<set>' : undefined, caPkcs11: c.caPkcs11 ? { ...c.caPkcs11, pin: '<set>' } : undefined, serverCertificate: c.serverCertificate ? { certFile: c.serverCertificate.certFile, keyFile: c.serverCertificate.keyFile } : undefined, databaseUrl: c.databaseUrl ? c.databaseUrl.replace(/\/\/[^@]*@/, '//***@') : undefined, redisUrl: c.redisUrl ? c.redisUrl.replace(/\/\/[^@]*@/, '//***@') : undefined };
}

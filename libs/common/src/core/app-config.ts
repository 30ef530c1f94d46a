import { z } from 'zod';
import * as path from 'node:path';

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
  FLEETGUARD_CA_PASSPHRASE: z.string().min(12, 'must be at least 12 characters').optional(),
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
  FLEETGUARD_HTTP_MAX_BODY: positiveInt.default(1024 * 1024),
  FLEETGUARD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FLEETGUARD_PRETTY_LOGS: bool.default(false),
  /** Webhook receivers allowed although internal (loopback, private, ...): host names, IPs or CIDRs, comma-separated. */
  FLEETGUARD_WEBHOOK_ALLOWED_HOSTS: z.string().default(''),
  /** /metrics without a key (for a scraper on a trusted network); else an admin or auditor key. */
  FLEETGUARD_METRICS_PUBLIC: bool.default(false),
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
  httpMaxBody: number;
  logLevel: string;
  prettyLogs: boolean;
  webhookAllowedHosts: string[];
  metricsPublic: boolean;
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
  if (c.FLEETGUARD_ENV === 'production' && !c.FLEETGUARD_CA_PASSPHRASE) {
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
    httpMaxBody: c.FLEETGUARD_HTTP_MAX_BODY,
    logLevel: c.FLEETGUARD_LOG_LEVEL,
    prettyLogs: c.FLEETGUARD_PRETTY_LOGS,
    metricsPublic: c.FLEETGUARD_METRICS_PUBLIC,
    webhookAllowedHosts: c.FLEETGUARD_WEBHOOK_ALLOWED_HOSTS.split(',').map((h) => h.trim()).filter(Boolean),
  };
}

/** What may be printed of the configuration: secrets are marked, never shown. */
export function redactConfig(c: AppConfig): Record<string, unknown> {
  return { ...c, adminKey: c.adminKey ? '<set>' : undefined, caPassphrase: c.caPassphrase ? '<set>' : undefined, databaseUrl: c.databaseUrl ? c.databaseUrl.replace(/\/\/[^@]*@/, '//***@') : undefined };
}

/**
 * The hardening report a device sends: configuration facts about itself. Every fact is optional
 * (an absent fact is "unknown" to the rules, never "false"); only `schemaVersion` is required.
 * Strict JSON schema (ajv, strict mode, no unknown fields, bounded strings, arrays and numbers).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { invalid } from '@fleetguard/common';

export const HARDENING_REPORT_SCHEMA_VERSION = 1;
export const MAX_SERVICES = 256;

/** State of a physical debug or I/O interface. `absent`: the hardware has none. */
export type InterfaceState = 'absent' | 'disabled' | 'locked' | 'enabled';
export type AuthenticationMethod = 'password' | 'public-key' | 'symmetric-key' | 'token' | 'biometric';
export type TlsVersion = '1.0' | '1.1' | '1.2' | '1.3';
export type KeyStorage = 'software' | 'tpm' | 'secure-element' | 'tee' | 'hsm';
export type StorageAlgorithm =
  | 'aes-128-gcm'
  | 'aes-256-gcm'
  | 'aes-128-xts'
  | 'aes-256-xts'
  | 'aes-128-cbc'
  | 'aes-256-cbc'
  | 'chacha20-poly1305'
  | '3des'
  | 'other';

export interface ReportedService {
  /** e.g. `ssh`, `https`, `mqtts`, `telnet` (lower case). */
  name: string;
  port: number;
  protocol: 'tcp' | 'udp';
  encrypted: boolean;
}

/** A validated hardening report. Field meanings are in `hardeningReportSchema` descriptions. */
export interface HardeningReport {
  schemaVersion: typeof HARDENING_REPORT_SCHEMA_VERSION;
  reportedAt?: string;
  firmwareVersion?: string;
  secureBoot?: { enabled?: boolean; verified?: boolean };
  debugInterfaces?: { jtag?: InterfaceState; uart?: InterfaceState; swd?: InterfaceState; monitored?: boolean };
  physicalPorts?: { usb?: InterfaceState; serialConsole?: InterfaceState; unusedDisabled?: boolean };
  defaultCredentialsChanged?: boolean;
  authentication?: {
    required?: boolean;
    methods?: AuthenticationMethod[];
    feedbackObscured?: boolean;
    loginBanner?: boolean;
  };
  passwordPolicy?: {
    minLength?: number;
    complexity?: boolean;
    lockoutAfterFailures?: number;
    maxAgeDays?: number;
    appliesToAllUsers?: boolean;
    historyCount?: number;
  };
  accounts?: { local?: number; unique?: boolean; mfa?: boolean; roleBased?: boolean; manageable?: boolean };
  authorization?: { enforced?: boolean; allUsers?: boolean; supervisorOverride?: boolean; dualApproval?: boolean };
  userInterface?: { local?: boolean; remote?: boolean };
  sessionLock?: { enabled?: boolean; timeoutSeconds?: number };
  remoteSessionTermination?: boolean;
  concurrentSessionLimit?: number;
  sessionIntegrity?: { uniqueIds?: boolean; invalidatedOnEnd?: boolean };
  services?: ReportedService[];
  tls?: { versions?: TlsVersion[]; mutualAuth?: boolean };
  usesPki?: boolean;
  pki?: { chainValidation?: boolean; revocationCheck?: boolean; proofOfPossession?: boolean; identityMapping?: boolean };
  keyStorage?: KeyStorage;
  symmetricKeys?: { uniquePerDevice?: boolean };
  wireless?: { present?: boolean; authenticated?: boolean; uniqueAuthentication?: boolean };
  untrustedNetworkAccess?: { supported?: boolean; monitored?: boolean; explicitApproval?: boolean };
  mobileCode?: { used?: boolean; restricted?: boolean; authenticityCheck?: boolean };
  auditLogging?: {
    enabled?: boolean;
    forwarding?: boolean;
    protectedStorage?: boolean;
    timestamps?: boolean;
    readAccess?: boolean;
    capacityWarning?: boolean;
    failureAlert?: boolean;
    writeOnce?: boolean;
    userAttribution?: 'none' | 'human' | 'all';
  };
  timeSync?: { enabled?: boolean; authenticated?: boolean; source?: string };
  storageEncryption?: { enabled?: boolean; algorithm?: StorageAlgorithm };
  dataErasure?: { supported?: boolean; sharedMemory?: boolean; verified?: boolean };
  updateSignatureCheck?: boolean;
  integrityNotification?: boolean;
  tamperDetection?: boolean;
  tamperNotification?: boolean;
  malwareProtection?: boolean;
  malwareProtectionVersion?: string;
  securitySelfTest?: { supported?: boolean; duringOperation?: boolean };
  inputValidation?: boolean;
  connectsToProcess?: boolean;
  deterministicOutputs?: boolean;
  secureErrorHandling?: boolean;
  rootsOfTrust?: { supplierProvisioned?: boolean; ownerProvisionable?: boolean };
  networkSegmentation?: boolean;
  networkBoundary?: {
    zoneBoundary?: boolean;
    filtering?: boolean;
    denyByDefault?: boolean;
    islandMode?: boolean;
    failClose?: boolean;
    personToPersonBlocked?: boolean;
  };
  continuousMonitoring?: boolean;
  dosProtection?: { enabled?: boolean; rateLimiting?: boolean };
  resourceLimits?: boolean;
  backupRestore?: { backup?: boolean; restore?: boolean; verified?: boolean };
  securityBaselineApplied?: boolean;
  softwareInventory?: boolean;
}

// ---- schema building blocks --------------------------------------------------------------------

const bool = (description: string) => ({ type: 'boolean', description }) as const;
const int = (minimum: number, maximum: number, description: string) =>
  ({ type: 'integer', minimum, maximum, description }) as const;
const str = (maxLength: number, description: string, extra: Record<string, unknown> = {}) =>
  ({ type: 'string', minLength: 1, maxLength, description, ...extra }) as const;
const oneOf = (values: readonly string[], description: string) =>
  ({ type: 'string', enum: values, description }) as const;
const obj = (description: string, properties: Record<string, unknown>) =>
  ({ type: 'object', additionalProperties: false, description, properties }) as const;
const setOf = (values: readonly string[], description: string) =>
  ({ type: 'array', maxItems: values.length, uniqueItems: true, items: { type: 'string', enum: values }, description }) as const;

const INTERFACE_STATES = ['absent', 'disabled', 'locked', 'enabled'] as const;
const iface = (what: string) => oneOf(INTERFACE_STATES, `${what}: absent, disabled, locked (authenticated) or enabled`);

/** The JSON schema (draft-07 keywords) of a hardening report, schema version 1. */
export const hardeningReportSchema = {
  $id: 'https://fleetguard.local/schemas/hardening-report.v1.json',
  title: 'Hardening report',
  type: 'object',
  additionalProperties: false,
  required: ['schemaVersion'],
  properties: {
    schemaVersion: { type: 'integer', const: HARDENING_REPORT_SCHEMA_VERSION, description: 'report schema version' },
    reportedAt: str(40, 'when the device collected the facts (RFC 3339 date-time)', { format: 'date-time' }),
    firmwareVersion: str(64, 'running firmware version', { pattern: '^[\\x21-\\x7e]*$' }),
    secureBoot: obj('secure / measured boot', {
      enabled: bool('secure boot is enabled'),
      verified: bool('each boot stage verifies the signature of the next'),
    }),
    debugInterfaces: obj('physical diagnostic and test interfaces', {
      jtag: iface('JTAG'),
      uart: iface('UART console'),
      swd: iface('SWD'),
      monitored: bool('use of debug interfaces is actively monitored and reported'),
    }),
    physicalPorts: obj('physical I/O ports', {
      usb: iface('USB'),
      serialConsole: iface('serial console'),
      unusedDisabled: bool('unused physical ports are disabled'),
    }),
    defaultCredentialsChanged: bool('factory default credentials have been changed'),
    authentication: obj('human user authentication', {
      required: bool('every human user interface requires authentication'),
      methods: setOf(['password', 'public-key', 'symmetric-key', 'token', 'biometric'], 'authentication methods in use'),
      feedbackObscured: bool('authenticator input is obscured (no echo)'),
      loginBanner: bool('a system use notification is shown before login'),
    }),
    passwordPolicy: obj('password policy', {
      minLength: int(0, 256, 'minimum password length'),
      complexity: bool('character-class complexity is enforced'),
      lockoutAfterFailures: int(0, 1000, 'consecutive failures before lockout; 0 = never locks'),
      maxAgeDays: int(0, 3650, 'maximum password age in days; 0 = never expires'),
      appliesToAllUsers: bool('lifetime restrictions apply to software-process and device accounts too'),
      historyCount: int(0, 100, 'previous passwords that cannot be reused; 0 = reuse allowed'),
    }),
    accounts: obj('local accounts', {
      local: int(0, 100000, 'number of local accounts'),
      unique: bool('every user has an individual account (no shared accounts)'),
      mfa: bool('multifactor authentication on all interfaces'),
      roleBased: bool('permissions are mapped to roles'),
      manageable: bool('accounts can be added, disabled and removed'),
    }),
    authorization: obj('authorization enforcement', {
      enforced: bool('authorization is enforced for human users'),
      allUsers: bool('authorization is enforced for software processes and devices too'),
      supervisorOverride: bool('a supervisor override is available and audited'),
      dualApproval: bool('dual approval for selected actions'),
    }),
    userInterface: obj('human user interfaces', {
      local: bool('a local HMI / console exists'),
      remote: bool('remote interactive sessions are supported'),
    }),
    sessionLock: obj('session lock', {
      enabled: bool('sessions lock after inactivity'),
      timeoutSeconds: int(0, 86400, 'inactivity timeout in seconds'),
    }),
    remoteSessionTermination: bool('remote sessions can be terminated (automatically and manually)'),
    concurrentSessionLimit: int(0, 10000, 'maximum concurrent sessions per user; 0 = unlimited'),
    sessionIntegrity: obj('session identifiers', {
      uniqueIds: bool('session identifiers are unique, random and generated by the component only'),
      invalidatedOnEnd: bool('session identifiers are invalidated when the session ends (logout, timeout)'),
    }),
    services: {
      type: 'array',
      maxItems: MAX_SERVICES,
      description: 'listening network services',
      items: obj('a listening service', {
        name: str(64, 'service name, lower case', { pattern: '^[a-z0-9][a-z0-9._+-]*$' }),
        port: int(1, 65535, 'port'),
        protocol: oneOf(['tcp', 'udp'], 'transport'),
        encrypted: bool('traffic is encrypted and integrity-protected'),
      }),
    },
    tls: obj('TLS', {
      versions: setOf(['1.0', '1.1', '1.2', '1.3'], 'TLS versions enabled'),
      mutualAuth: bool('peers are authenticated with client certificates'),
    }),
    usesPki: bool('the component uses PKI certificates'),
    pki: obj('certificate handling', {
      chainValidation: bool('certificate chains are validated to a trust anchor'),
      revocationCheck: bool('revocation is checked (CRL or OCSP)'),
      proofOfPossession: bool("the peer's control of its private key is established (e.g. the TLS handshake signature)"),
      identityMapping: bool('the authenticated certificate identity is mapped to a user or device account'),
    }),
    keyStorage: oneOf(['software', 'tpm', 'secure-element', 'tee', 'hsm'], 'where private and secret keys are kept'),
    symmetricKeys: obj('symmetric-key authentication', {
      uniquePerDevice: bool('symmetric keys are unique per device and protected'),
    }),
    wireless: obj('wireless interfaces', {
      present: bool('the component has wireless interfaces'),
      authenticated: bool('wireless access is authenticated and authorized'),
      uniqueAuthentication: bool('wireless users are uniquely identified (e.g. 802.1X)'),
    }),
    untrustedNetworkAccess: obj('access via untrusted networks', {
      supported: bool('the component gives access into a network from untrusted networks'),
      monitored: bool('such access is monitored and controlled'),
      explicitApproval: bool('such access needs explicit approval'),
    }),
    mobileCode: obj('mobile code (scripts, applets, containers pulled at run time)', {
      used: bool('mobile code technologies are used'),
      restricted: bool('mobile code is restricted / controlled'),
      authenticityCheck: bool('mobile code authenticity is checked before execution'),
    }),
    auditLogging: obj('audit logging', {
      enabled: bool('security events are logged'),
      forwarding: bool('audit records are forwarded off the device (syslog, SIEM)'),
      protectedStorage: bool('audit records are protected from modification'),
      timestamps: bool('audit records carry timestamps'),
      readAccess: bool('authorized users can read the audit log'),
      capacityWarning: bool('a warning is raised when audit storage reaches a threshold'),
      failureAlert: bool('audit processing failures raise an alert'),
      writeOnce: bool('audit records are kept on write-once media'),
      userAttribution: oneOf(['none', 'human', 'all'], 'whose actions are attributed to an identity'),
    }),
    timeSync: obj('time synchronization', {
      enabled: bool('time is synchronized'),
      authenticated: bool('the time source is authenticated (NTS, authenticated NTP, PTP security)'),
      source: str(253, 'time source host name or address', { pattern: '^[\\x21-\\x7e]*$' }),
    }),
    storageEncryption: obj('data at rest', {
      enabled: bool('persistent storage is encrypted'),
      algorithm: oneOf(
        ['aes-128-gcm', 'aes-256-gcm', 'aes-128-xts', 'aes-256-xts', 'aes-128-cbc', 'aes-256-cbc', 'chacha20-poly1305', '3des', 'other'],
        'storage encryption algorithm',
      ),
    }),
    dataErasure: obj('information persistence', {
      supported: bool('data can be purged before decommissioning'),
      sharedMemory: bool('shared memory is erased before reuse'),
      verified: bool('erasure is verified'),
    }),
    updateSignatureCheck: bool('firmware and software updates are signature-checked before install'),
    integrityNotification: bool('integrity violations are notified automatically'),
    tamperDetection: bool('physical tampering is resisted and detected'),
    tamperNotification: bool('tampering attempts are notified'),
    malwareProtection: bool('protection from malicious code (allow-listing, AV) is active'),
    malwareProtectionVersion: str(64, 'version of the code protection mechanism', { pattern: '^[\\x21-\\x7e]*$' }),
    securitySelfTest: obj('security functionality verification', {
      supported: bool('security functions can be self-tested'),
      duringOperation: bool('self-tests run during normal operation'),
    }),
    inputValidation: bool('inputs are validated for syntax and content'),
    connectsToProcess: bool('the component connects to an automation process'),
    deterministicOutputs: bool('outputs go to a predetermined (fail-safe) state on failure'),
    secureErrorHandling: bool('errors are handled without revealing exploitable information'),
    rootsOfTrust: obj('roots of trust', {
      supplierProvisioned: bool('supplier roots of trust are provisioned and protected'),
      ownerProvisionable: bool('the asset owner can provision its own roots of trust'),
    }),
    networkSegmentation: bool('the component supports network segmentation'),
    networkBoundary: obj('zone boundary functions (network devices)', {
      zoneBoundary: bool('the device sits at a zone boundary'),
      filtering: bool('traffic across the boundary is monitored and controlled'),
      denyByDefault: bool('deny all, permit by exception'),
      islandMode: bool('island mode is supported'),
      failClose: bool('fails closed'),
      personToPersonBlocked: bool('general purpose person-to-person messages are blocked'),
    }),
    continuousMonitoring: bool('security monitoring runs continuously'),
    dosProtection: obj('denial of service protection', {
      enabled: bool('the component keeps essential functions under DoS'),
      rateLimiting: bool('the component limits the communication load it generates'),
    }),
    resourceLimits: bool('resource use is limited (quotas, priorities)'),
    backupRestore: obj('backup and recovery', {
      backup: bool('configuration and state can be backed up'),
      restore: bool('the component can be restored to a known secure state'),
      verified: bool('backup integrity is verified'),
    }),
    securityBaselineApplied: bool('network and security settings follow the hardening guide'),
    softwareInventory: bool('the component reports its software inventory (SBOM)'),
  },
} as const;

// ---- validation --------------------------------------------------------------------------------

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ strict: true, allErrors: true });
    ajv.addFormat('date-time', { type: 'string', validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });
    compiled = ajv.compile(hardeningReportSchema);
  }
  return compiled;
}

const MAX_LISTED_PROBLEMS = 20;

/**
 * Validates a hardening report (a parsed JSON value, or JSON text). Returns it typed, or throws
 * `DomainError('hardening.invalid-report')` whose message lists the problems in plain words and
 * whose `details.problems` holds them one by one.
 */
export function validateHardeningReport(json: unknown): HardeningReport {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw invalid('hardening.invalid-report', `hardening report is not valid JSON: ${(e as Error).message}`);
    }
  }
  const validate = validator();
  if (validate(value)) return value as HardeningReport;
  const problems = (validate.errors ?? []).map(describeError);
  const shown = problems.slice(0, MAX_LISTED_PROBLEMS);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  throw invalid('hardening.invalid-report', `invalid hardening report: ${shown.join('; ')}${more}`, { problems });
}

/** `/services/3/port` → `services[3].port`; the root is `report`. */
function readablePath(instancePath: string): string {
  if (!instancePath) return 'report';
  return instancePath
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

function describeError(e: ErrorObject): string {
  const at = readablePath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at} has an unknown field "${String(p.additionalProperty)}"`;
    case 'required':
      return `${at} is missing the required field "${String(p.missingProperty)}"`;
    case 'type':
      return `${at} must be ${article(String(p.type))}`;
    case 'enum':
      return `${at} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${at} must be ${JSON.stringify(p.allowedValue)}`;
    case 'maxItems':
      return `${at} has more than ${String(p.limit)} items`;
    case 'uniqueItems':
      return `${at} lists the same value twice (items ${Math.min(Number(p.i), Number(p.j))} and ${Math.max(Number(p.i), Number(p.j))})`;
    case 'maxLength':
      return `${at} is longer than ${String(p.limit)} characters`;
    case 'minLength':
      return `${at} must not be empty`;
    case 'minimum':
    case 'maximum':
      return `${at} must be ${String(p.comparison)} ${String(p.limit)}`;
    case 'pattern':
      return `${at} contains characters that are not allowed`;
    case 'format':
      return `${at} must be ${p.format === 'date-time' ? 'an RFC 3339 date-time such as 2025-01-31T12:00:00Z' : `a ${String(p.format)}`}`;
    default:
      return `${at} ${e.message ?? 'is invalid'}`;
  }
}

// ---- fact paths, for checking rules against the schema -----------------------------------------

export type FactKind = 'boolean' | 'integer' | 'string' | 'array' | 'object';
export interface FactDescriptor {
  readonly kind: FactKind;
  /** Allowed values of a string (or of the elements of an array of strings). */
  readonly enum?: readonly string[];
  /** For an array: what its elements are. */
  readonly items?: FactDescriptor;
  /** For an object (or an array element that is an object): its fields. */
  readonly fields?: ReadonlyMap<string, FactDescriptor>;
}

interface SchemaNode {
  type?: string;
  enum?: readonly string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

function describeNode(node: SchemaNode): FactDescriptor {
  const kind = node.type as FactKind;
  if (kind === 'object') {
    const fields = new Map<string, FactDescriptor>();
    for (const [k, v] of Object.entries(node.properties ?? {})) fields.set(k, describeNode(v));
    return { kind, fields };
  }
  if (kind === 'array') return { kind, items: describeNode(node.items ?? {}) };
  return node.enum ? { kind, enum: node.enum } : { kind };
}

let rootDescriptor: FactDescriptor | undefined;
/** The report's shape, as a tree of descriptors (root = the report object). */
export function hardeningReportShape(): FactDescriptor {
  return (rootDescriptor ??= describeNode(hardeningReportSchema as unknown as SchemaNode));
}

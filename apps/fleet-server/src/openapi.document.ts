/**
 * The OpenAPI document served at /docs and /docs-json: what @nestjs/swagger derives from the
 * controllers, made valid OpenAPI 3.0 and complete in one pass here (the test in
 * test/openapi.e2e-spec.ts validates it with @apidevtools/swagger-parser and requires a request
 * schema on every route that takes a body and a response schema on every route):
 *
 * - JSON Schema 2020 keywords OAS 3.0 does not have: `$id` dropped, `const: x` -> `enum: [x]`;
 * - path parameters exactly those of the path template (the EST routes declare `{label}` on the
 *   label-less aliases and miss it on the others); duplicated parameters (a header declared by
 *   `@ApiHeader` and again by `@Headers()`, in another case) merged;
 * - request bodies that are not JSON DTOs (firmware upload: the raw image; EST: base64 PKCS#10);
 * - response schemas from the catalogue below, keyed by "METHOD /path", and the error body on
 *   every 4xx/5xx; the bearer scheme described as what it is (an API key, not a JWT).
 */
import { EAR_STATUSES, INTEGRITY_STATUSES } from '@fleetguard/common';

type Json = Record<string, any>;

const obj = (properties: Json, required: string[] = []): Json => ({ type: 'object', properties, ...(required.length ? { required } : {}) });
const str = (extra: Json = {}): Json => ({ type: 'string', ...extra });
const dateTime = { type: 'string', format: 'date-time' };
const nullable = (schema: Json): Json => ({ ...schema, nullable: true });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (items: Json) => ({ type: 'array', items });
const page = (items: Json, next: Json = nullable(str())) => obj({ items: arrayOf(items), next }, ['items']);
const anyObject = { type: 'object', additionalProperties: true };

export const RESPONSE_SCHEMAS: Readonly<Record<string, Json>> = {
  Error: obj(
    {
      statusCode: { type: 'integer' },
      error: str(),
      message: { oneOf: [str(), arrayOf(str())] },
      code: str({ description: 'stable machine-readable reason, e.g. mcuboot.hash-mismatch' }),
      errorId: str({ description: 'on 500s: the id of the logged error' }),
    },
    ['statusCode', 'message'],
  ),
  Health: obj({ status: str() }, ['status']),
  Organization: obj({ id: str({ format: 'uuid' }), name: str(), kind: str({ enum: ['manufacturer', 'operator'] }), createdAt: dateTime }, ['id', 'name', 'kind']),
  ApiKeyCreated: obj({ id: str(), key: str({ description: 'shown once' }), organizationId: str(), roles: arrayOf(str()), label: nullable(str()) }, ['id', 'key']),
  AuditPage: obj({ entries: arrayOf(anyObject), next: nullable({ type: 'integer' }) }, ['entries']),
  AuditVerify: obj({ ok: { type: 'boolean' }, entries: { type: 'integer' }, head: str(), brokenAt: { type: 'integer' }, reason: str() }, ['ok']),
  Product: obj(
    {
      id: str({ format: 'uuid' }),
      name: str(),
      componentType: str({ enum: ['EDR', 'HDR', 'NDR', 'SAR'] }),
      declaredRequirements: arrayOf(str()),
      targetLevels: anyObject,
      minSecurityCounter: { type: 'integer' },
      manufacturerId: str(),
      createdAt: dateTime,
    },
    ['id', 'name'],
  ),
  EnrollmentTokens: obj({ tokens: arrayOf(obj({ token: str(), expiresAt: dateTime })) }),
  EnrollmentGrant: obj(
    {
      id: str({ format: 'uuid' }),
      operatorOrganizationId: str({ format: 'uuid' }),
      manufacturerOrganizationId: str({ format: 'uuid' }),
      productId: nullable(str({ format: 'uuid' })),
      maxDevices: { type: 'integer' },
      usedDevices: { type: 'integer' },
      expiresAt: dateTime,
      withdrawnAt: nullable(dateTime),
      createdAt: dateTime,
    },
    ['id', 'operatorOrganizationId', 'manufacturerOrganizationId', 'maxDevices', 'usedDevices', 'expiresAt'],
  ),
  Enrolled: obj({ deviceId: str(), certificate: str({ description: 'PEM' }), chain: str({ description: 'PEM' }) }, ['deviceId', 'certificate']),
  Device: obj(
    {
      id: str(),
      productId: str(),
      manufacturerId: str(),
      operatorId: nullable(str()),
      status: str(),
      keyType: str(),
      hasAttestationKey: { type: 'boolean' },
      certificate: obj({ serial: str(), notAfter: dateTime }),
      firmware: obj({ version: nullable(str()), securityCounter: nullable({ type: 'integer' }) }),
      attestation: obj({ status: nullable(str()), at: nullable(dateTime), affirmedAt: nullable(dateTime) }),
      levels: anyObject,
      integrity: str({ enum: [...INTEGRITY_STATUSES] }),
      lastSeenAt: nullable(dateTime),
      enrolledAt: dateTime,
    },
    ['id', 'productId', 'status'],
  ),
  FleetSummary: anyObject,
  Webhook: obj({ id: str(), url: str(), events: arrayOf(str()), createdAt: dateTime }, ['id', 'url']),
  WebhookDelivery: obj(
    {
      id: str({ format: 'uuid', description: 'also sent as X-Fleetguard-Delivery, the same for every attempt (deduplicate on it)' }),
      eventId: str({ format: 'uuid' }),
      eventType: str(),
      status: str({ enum: ['pending', 'delivered', 'dead'] }),
      attempts: { type: 'integer', minimum: 0 },
      lastError: nullable(str()),
      lastStatus: nullable({ type: 'integer' }),
      nextAttemptAt: nullable(dateTime),
      expiresAt: { ...dateTime, description: 'retried until then (FLEETGUARD_WEBHOOK_RETRY_HORIZON_SECONDS), then dead' },
      createdAt: dateTime,
      finishedAt: nullable(dateTime),
    },
    ['id', 'eventId', 'eventType', 'status', 'attempts', 'expiresAt', 'createdAt'],
  ),
  SigningKey: obj({ keyId: str({ pattern: '^[0-9a-f]{64}$' }), algorithm: str({ enum: ['ES256', 'ES384', 'EdDSA', 'RSA-PSS'] }), status: str({ enum: ['active', 'revoked'] }), createdAt: dateTime, revokedAt: nullable(dateTime) }, ['keyId', 'algorithm', 'status']),
  SigningKeyRevoked: obj({ keyId: str(), releasesRevoked: arrayOf(str()) }, ['keyId', 'releasesRevoked']),
  Release: obj(
    {
      version: str(),
      format: str({ enum: ['mcuboot', 'detached'] }),
      securityCounter: { type: 'integer' },
      digest: str({ pattern: '^sha256:[0-9a-f]{64}$' }),
      size: { type: 'integer' },
      signerKeyId: str(),
      status: str({ enum: ['trusted', 'revoked'] }),
      revokedReason: nullable(str()),
      referenceValues: nullable(anyObject),
      createdAt: dateTime,
    },
    ['version', 'format', 'securityCounter', 'digest', 'status'],
  ),
  UploadedRelease: {
    allOf: [
      ref('Release'),
      obj({
        image: obj({
          format: str(),
          fileDigest: str(),
          imageHash: str({ description: 'sha256:/sha384:/sha512:<hex>, the image hash TLV' }),
          signature: str({ example: 'ecdsa-p384-sha384' }),
          flags: arrayOf(str()),
          imageBytes: { type: 'integer' },
          slotTrailer: nullable(obj({ paddedBytes: { type: 'integer' }, erasedValue: { type: 'integer' }, maxAlign: { type: 'integer' }, confirmed: { type: 'boolean' } })),
        }),
      }),
    ],
  },
  Challenge: obj({ nonce: str({ description: 'base64url, 32 bytes' }), expiresAt: dateTime }, ['nonce', 'expiresAt']),
  AttestationResult: obj(
    {
      id: str(),
      status: str({ enum: [...EAR_STATUSES] }),
      trustVector: anyObject,
      reasons: arrayOf(anyObject),
      findings: arrayOf(anyObject),
      firmwareVersion: nullable(str()),
      securityCounter: nullable({ type: 'integer' }),
      claims: nullable(anyObject),
      evidenceSha256: str(),
      ear: str({ description: 'the signed EAR (compact JWS)' }),
      createdAt: dateTime,
    },
    ['id', 'status'],
  ),
  LinuxEvidence: obj(
    {
      resultId: str(),
      status: str({ enum: [...EAR_STATUSES] }),
      firmwareVersion: nullable(str()),
      createdAt: dateTime,
      boot: nullable(
        obj({
          banks: arrayOf(str()),
          events: arrayOf(
            obj(
              {
                index: { type: 'integer' },
                pcr: { type: 'integer' },
                type: str({ description: 'e.g. EV_EFI_VARIABLE_DRIVER_CONFIG' }),
                label: nullable(str({ description: 'variable name, device path or command line' })),
                digests: { type: 'object', additionalProperties: str() },
                findings: arrayOf(ref('ViewFinding')),
              },
              ['index', 'pcr', 'type', 'digests', 'findings'],
            ),
          ),
          error: str(),
        }),
      ),
      ima: nullable(
        obj({
          offset: { type: 'integer' },
          total: { type: 'integer' },
          omitted: { type: 'integer' },
          entries: arrayOf(
            obj(
              { position: { type: 'integer' }, pcr: { type: 'integer' }, template: str(), path: str(), alg: str(), digest: str(), violation: { type: 'boolean' }, findings: arrayOf(ref('ViewFinding')) },
              ['position', 'path', 'findings'],
            ),
          ),
          error: str(),
        }),
      ),
      findings: arrayOf(ref('ViewFinding')),
    },
    ['resultId', 'status', 'boot', 'ima', 'findings'],
  ),
  ViewFinding: obj({ stage: str(), code: str(), message: str() }, ['stage', 'code', 'message']),
  Jwk: obj({ kty: str(), crv: str(), x: str(), y: str(), kid: str(), alg: str() }, ['kty']),
  Score: anyObject,
  Catalog: anyObject,
  HardeningReportAccepted: anyObject,
};

const json = (schema: Json) => ({ 'application/json': { schema } });
const text = (type: string, description?: string) => ({ [type]: { schema: { type: 'string', ...(description ? { description } : {}) } } });
const binary = (type: string) => ({ [type]: { schema: { type: 'string', format: 'binary' } } });
const pkcs7 = { 'application/pkcs7-mime': { schema: { type: 'string', description: 'base64 DER PKCS#7 certs-only (RFC 7030)' } } };

/** Success responses by "METHOD /path" (the path as in the document). */
/** The EAR itself, when `Accept` asks for it (see NOT_ACCEPTABLE). */
const EAR_JWT: Json = {
  'application/eat+jwt': {
    schema: {
      type: 'string',
      pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$',
      description:
        'the EAR, a compact JWS. Ask with `Accept: application/eat+jwt; eat_profile="tag:ietf.org,2026:rats/ear#04"` (draft-ietf-rats-ear-04 form) or `eat_profile="tag:github.com,2023:veraison/ear"` (veraison/ear form); without a profile, or as `application/jwt`, the configured form (FLEETGUARD_EAR_FORM). The answer carries the same media type and profile.',
    },
  },
  'application/jwt': { schema: { type: 'string', description: 'the EAR in the configured form (FLEETGUARD_EAR_FORM)' } },
};

/** Routes whose representation `Accept` chooses: a 406 names the media types offered. */
const NOT_ACCEPTABLE = new Set(['POST /attestation/evidence', 'GET /api/v1/devices/{id}/attestations/{resultId}/ear']);

/**
 * Who may call the routes that take no API key (redocly's `security-defined`: say it on every
 * operation). OAS 3.0 has no mutual-TLS scheme (3.1's `mutualTLS`): the device listener's routes,
 * where the client certificate is the credential, say `[]` and their description says so.
 */
const OPEN: Json[] = [];
const SECURITY: Readonly<Record<string, Json[]>> = {
  'GET /metrics': [{ bearer: [] }, {}],
  'POST /.well-known/est/simpleenroll': [{ estBasic: [] }],
  'POST /.well-known/est/{label}/simpleenroll': [{ estBasic: [] }],
  'GET /api/v1/events': [{ eventTicket: [] }],
};

/** One line per operation (redocly's `operation-summary`; generated clients name methods from them). */
const SUMMARIES: Readonly<Record<string, string>> = {
  'GET /health/live': 'Liveness: the process answers',
  'GET /health/ready': 'Readiness: database and listeners are up',
  'GET /metrics': 'Prometheus metrics',
  'POST /api/v1/organizations': 'Create an organization (admin)',
  'GET /api/v1/organizations': 'List organizations',
  'POST /api/v1/api-keys': 'Create an API key',
  'DELETE /api/v1/api-keys/{id}': 'Revoke an API key',
  'GET /api/v1/audit': 'Read the audit log',
  'GET /api/v1/audit/verify': 'Verify the audit log hash chain',
  'POST /pki/ocsp': 'OCSP request (RFC 6960, POST)',
  'GET /pki/ocsp/{request}': 'OCSP request (RFC 6960, GET)',
  'GET /pki/ca': 'The CA chain, PEM',
  'GET /pki/crl': 'The device CA CRL, DER',
  'GET /pki/root-crl': 'The root CA CRL, DER',
  'GET /pki/root-crl.pem': 'The root CA CRL, PEM',
  'GET /pki/crl.pem': 'The device CA CRL, PEM',
  'GET /pki/crl/{generation}': "A later issuing CA's CRL (after a rollover), DER, or PEM with .pem",
  'GET /api/v1/pki/issuing-ca': 'The root and the issuing CAs, and which one issues now',
  'POST /api/v1/pki/issuing-ca/rollover': 'Roll over to a new issuing CA under the same root',
  'POST /api/v1/pki/rekey': 'Ask devices to re-key (forced key renewal)',
  'GET /api/v1/pki/audit': 'Certificate audit findings',
  'GET /api/v1/webhooks/{id}/deliveries': "A webhook's deliveries, newest first",
  'POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': 'Queue a dead delivery again',
  'PUT /api/v1/zones/{id}/target-levels': "Set a zone's target levels (SL-T)",
  'POST /api/v1/events/tickets': 'Get a single-use ticket for the event stream',
  'GET /api/v1/events': 'Server-sent event stream (with a ticket)',
  'POST /api/v1/products': 'Create a product',
  'GET /api/v1/products': 'List products',
  'GET /api/v1/products/{id}': 'Get a product',
  'POST /api/v1/products/{id}/enrollment-tokens': 'Create enrollment tokens',
  'POST /enroll': 'Enroll a device (token + CSR)',
  'GET /.well-known/est/cacerts': 'EST: CA certificates (RFC 7030 4.1)',
  'GET /.well-known/est/{label}/cacerts': 'EST: CA certificates, labelled',
  'GET /.well-known/est/csrattrs': 'EST: CSR attributes (RFC 7030 4.5)',
  'GET /.well-known/est/{label}/csrattrs': 'EST: CSR attributes, labelled',
  'POST /.well-known/est/simpleenroll': 'EST: enroll (RFC 7030 4.2.1)',
  'POST /.well-known/est/{label}/simpleenroll': 'EST: enroll, labelled',
  'POST /.well-known/est/simplereenroll': 'EST: re-enroll with the client certificate (RFC 7030 4.2.2)',
  'POST /.well-known/est/{label}/simplereenroll': 'EST: re-enroll, labelled',
  'GET /api/v1/devices/{id}': 'Get a device',
  'POST /api/v1/devices/{id}/revoke': 'Revoke a device and its certificate',
  'GET /api/v1/devices': 'List devices',
  'GET /api/v1/fleet/summary': 'Fleet summary',
  'GET /api/v1/fleet/report': 'Fleet report (streamed)',
  'POST /api/v1/webhooks': 'Register a webhook',
  'GET /api/v1/webhooks': 'List webhooks',
  'DELETE /api/v1/webhooks/{id}': 'Delete a webhook',
  'POST /api/v1/products/{id}/signing-keys': 'Register a firmware signing key',
  'GET /api/v1/products/{id}/signing-keys': 'List firmware signing keys',
  'DELETE /api/v1/products/{id}/signing-keys/{keyId}': 'Retire a firmware signing key',
  'POST /api/v1/products/{id}/firmware': 'Upload a signed firmware release',
  'GET /api/v1/products/{id}/firmware': 'List firmware releases',
  'POST /api/v1/products/{id}/firmware/{version}/revoke': 'Revoke a firmware release',
  'PUT /api/v1/products/{id}/firmware/{version}/reference-values': 'Set boot reference values of a release',
  'POST /attestation/challenge': 'Device: get a nonce (client certificate)',
  'POST /attestation/evidence': 'Device: send evidence, get the EAR (client certificate)',
  'GET /attestation/verifier-key': "The verifier's public JWK (EAR signatures)",
  'GET /api/v1/devices/{id}/attestations/{resultId}/ear': 'One attestation result as an EAR, in the form Accept asks',
  'POST /api/v1/enrollment-grants': "Operator: grant a manufacturer the right to enroll devices into this operator's fleet",
  'GET /api/v1/enrollment-grants': 'List enrollment grants (given, or received by a manufacturer)',
  'DELETE /api/v1/enrollment-grants/{grantId}': 'Operator: withdraw an enrollment grant',
  'GET /api/v1/devices/{id}/attestations/{resultId}/linux-evidence': "One attestation result's decoded TCG boot events and IMA findings against the policy",
  'POST /api/v1/devices/{id}/attest': 'Challenge a connected device now',
  'GET /api/v1/devices/{id}/attestations': 'Attestation history of a device',
  'POST /api/v1/products/{id}/firmware/{version}/reference-values/event-log': 'Record golden measured boot from a TCG log',
  'PUT /api/v1/products/{id}/measured-boot-policy': 'Set the measured-boot policy',
  'GET /api/v1/products/{id}/measured-boot-policy': 'Get the measured-boot policy',
  'PUT /api/v1/products/{id}/runtime-policy': 'Set the IMA runtime policy',
  'POST /api/v1/products/{id}/corim': 'Import a CoRIM (PSA reference values, attest keys)',
  'GET /api/v1/devices/{id}/score': 'IEC 62443-4-2 score of a device',
  'PUT /api/v1/products/{id}/applicability': 'Set the statement of applicability',
  'GET /api/v1/products/{id}/applicability': 'Get the statement of applicability',
  'GET /api/v1/catalog': 'The 62443-4-2 requirement catalog',
  'POST /api/v1/scores/rescore': 'Score every device again',
  'POST /devices/self/hardening': 'Device: send a hardening report (client certificate)',
  'POST /api/v1/zones': 'Create a zone',
  'GET /api/v1/zones': 'List zones',
  'GET /api/v1/zones/{id}': 'Get a zone',
  'PUT /api/v1/zones/{id}/devices': 'Add or remove devices of a zone',
  'POST /api/v1/zones/{id}/countermeasures': 'Record a compensating countermeasure',
  'GET /api/v1/zones/{id}/assessment': 'Assessment export of a zone',
  'GET /api/v1/devices/{id}/assessment': 'Assessment export of a device',
  'PUT /api/v1/products/{id}/firmware/{version}/sbom': 'Attach an SBOM to a release',
  'GET /api/v1/products/{id}/firmware/{version}/sbom': "A release's SBOM components",
  'PUT /api/v1/products/{id}/lifecycle': 'Set lifecycle dates',
  'GET /api/v1/products/{id}/lifecycle': 'Get lifecycle dates',
  'POST /api/v1/advisories': 'Import a CSAF advisory',
  'GET /api/v1/advisories': 'List advisories',
  'GET /api/v1/advisories/{id}': 'Get an advisory',
  'GET /api/v1/advisories/{id}/devices': 'Devices exposed to an advisory',
  'POST /api/v1/vex': 'Import a VEX statement',
  'GET /api/v1/devices/{id}/exposure': 'Exposure of a device',
};

const RESPONSES: Readonly<Record<string, Json>> = {
  'GET /health/live': json(ref('Health')),
  'GET /health/ready': json(ref('Health')),
  'GET /metrics': text('text/plain', 'Prometheus text exposition format'),
  'POST /api/v1/organizations': json(ref('Organization')),
  'GET /api/v1/organizations': json(arrayOf(ref('Organization'))),
  'POST /api/v1/api-keys': json(ref('ApiKeyCreated')),
  'DELETE /api/v1/api-keys/{id}': json(anyObject),
  'GET /api/v1/audit': json(ref('AuditPage')),
  'GET /api/v1/audit/verify': json(ref('AuditVerify')),
  'GET /pki/ca': text('application/x-pem-file', 'the CA chain, PEM'),
  'GET /pki/crl': binary('application/pkix-crl'),
  'GET /pki/crl.pem': text('application/x-pem-file', 'the CRL, PEM'),
  'GET /api/v1/events': text('text/event-stream', 'server-sent events: attestation.result, attestation.failed, attestation.stale, device.revoked, score.changed, score.below-target'),
  'POST /api/v1/products': json(ref('Product')),
  'GET /api/v1/products': json(arrayOf(ref('Product'))),
  'GET /api/v1/products/{id}': json(ref('Product')),
  'POST /api/v1/products/{id}/enrollment-tokens': json(ref('EnrollmentTokens')),
  'POST /api/v1/enrollment-grants': json(ref('EnrollmentGrant')),
  'GET /api/v1/enrollment-grants': json(arrayOf(ref('EnrollmentGrant'))),
  'DELETE /api/v1/enrollment-grants/{grantId}': json(anyObject),
  'POST /enroll': json(ref('Enrolled')),
  'GET /.well-known/est/cacerts': pkcs7,
  'GET /.well-known/est/{label}/cacerts': pkcs7,
  'GET /.well-known/est/csrattrs': { 'application/csrattrs': { schema: { type: 'string', description: 'base64 DER CsrAttrs' } } },
  'GET /.well-known/est/{label}/csrattrs': { 'application/csrattrs': { schema: { type: 'string', description: 'base64 DER CsrAttrs' } } },
  'POST /.well-known/est/simpleenroll': pkcs7,
  'POST /.well-known/est/{label}/simpleenroll': pkcs7,
  'POST /.well-known/est/simplereenroll': pkcs7,
  'POST /.well-known/est/{label}/simplereenroll': pkcs7,
  'GET /api/v1/devices/{id}': json(ref('Device')),
  'POST /api/v1/devices/{id}/revoke': json(ref('Device')),
  'GET /api/v1/devices': json(page(ref('Device'))),
  'GET /api/v1/fleet/summary': json(ref('FleetSummary')),
  'GET /api/v1/fleet/report': { ...json(arrayOf(anyObject)), ...text('text/csv', 'RFC 4180 CSV') },
  'POST /api/v1/webhooks': json(ref('Webhook')),
  'GET /api/v1/webhooks': json(arrayOf(ref('Webhook'))),
  'DELETE /api/v1/webhooks/{id}': json(anyObject),
  'GET /api/v1/webhooks/{id}/deliveries': json(arrayOf(ref('WebhookDelivery'))),
  'POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': json(ref('WebhookDelivery')),
  'POST /api/v1/products/{id}/signing-keys': json(ref('SigningKey')),
  'GET /api/v1/products/{id}/signing-keys': json(arrayOf(ref('SigningKey'))),
  'DELETE /api/v1/products/{id}/signing-keys/{keyId}': json(ref('SigningKeyRevoked')),
  'POST /api/v1/products/{id}/firmware': json(ref('UploadedRelease')),
  'GET /api/v1/products/{id}/firmware': json(arrayOf(ref('Release'))),
  'POST /api/v1/products/{id}/firmware/{version}/revoke': json(ref('Release')),
  'PUT /api/v1/products/{id}/firmware/{version}/reference-values': json(ref('Release')),
  'POST /attestation/challenge': json(ref('Challenge')),
  'POST /attestation/evidence': { ...json(ref('AttestationResult')), ...EAR_JWT },
  'GET /attestation/verifier-key': json(ref('Jwk')),
  'POST /api/v1/devices/{id}/attest': json(ref('Challenge')),
  'GET /api/v1/devices/{id}/attestations': json(page(ref('AttestationResult'))),
  'GET /api/v1/devices/{id}/attestations/{resultId}/ear': EAR_JWT,
  'GET /api/v1/devices/{id}/attestations/{resultId}/linux-evidence': json(ref('LinuxEvidence')),
  'GET /api/v1/devices/{id}/score': json(ref('Score')),
  'GET /api/v1/catalog': json(ref('Catalog')),
  'POST /api/v1/scores/rescore': json(anyObject),
  'POST /devices/self/hardening': json(ref('HardeningReportAccepted')),
  // Routes of the evidence formats, zones, assessments, lifecycle and PKI additions (answers are JSON objects
  // documented in the README's reference sections; raw formats named by their media types).
  'POST /pki/ocsp': binary('application/ocsp-response'),
  'GET /pki/ocsp/{request}': binary('application/ocsp-response'),
  'GET /pki/root-crl': binary('application/pkix-crl'),
  'GET /pki/crl/{generation}': binary('application/pkix-crl'),
  'GET /api/v1/pki/issuing-ca': json(obj({ current: { type: 'integer' }, root: anyObject, issuing: arrayOf(anyObject) }, ['current', 'root', 'issuing'])),
  'POST /api/v1/pki/issuing-ca/rollover': json(obj({ generation: { type: 'integer' }, certificate: str(), notAfter: dateTime, chain: str() }, ['generation', 'certificate', 'notAfter', 'chain'])),
  'POST /api/v1/pki/rekey': json(obj({ marked: { type: 'integer' }, notifiedNow: { type: 'integer' }, topic: str(), deviceIds: arrayOf(str()) }, ['marked', 'notifiedNow', 'topic'])),
  'GET /api/v1/pki/audit': json(
    obj(
      {
        generatedAt: dateTime,
        withinDays: { type: 'integer' },
        findings: arrayOf(
          obj(
            {
              kind: str({ enum: ['device-certificate-expiring', 'device-not-renewed', 'ca-certificate-expiring', 'weak-key', 'key-shared', 'revoked-but-connected', 'client-id-on-two-connections', 'rekey-pending'] }),
              severity: str({ enum: ['high', 'medium', 'low'] }),
              deviceId: str(),
              deviceIds: arrayOf(str()),
              serial: str(),
              caGeneration: { type: 'integer' },
              at: dateTime,
              detail: str(),
            },
            ['kind', 'severity', 'detail'],
          ),
        ),
      },
      ['generatedAt', 'withinDays', 'findings'],
    ),
  ),
  'GET /pki/root-crl.pem': text('application/x-pem-file', 'the root CA\'s CRL, PEM'),
  'POST /api/v1/events/tickets': json(anyObject),
  'POST /api/v1/products/{id}/firmware/{version}/reference-values/event-log': json(anyObject),
  'PUT /api/v1/products/{id}/measured-boot-policy': json(anyObject),
  'GET /api/v1/products/{id}/measured-boot-policy': json(anyObject),
  'PUT /api/v1/products/{id}/runtime-policy': json(anyObject),
  'POST /api/v1/products/{id}/corim': json(anyObject),
  'PUT /api/v1/products/{id}/applicability': json(anyObject),
  'GET /api/v1/products/{id}/applicability': json(anyObject),
  'POST /api/v1/zones': json(anyObject),
  'GET /api/v1/zones': json(arrayOf(anyObject)),
  'GET /api/v1/zones/{id}': json(anyObject),
  'PUT /api/v1/zones/{id}/devices': json(anyObject),
  'PUT /api/v1/zones/{id}/target-levels': json(anyObject),
  'POST /api/v1/zones/{id}/countermeasures': json(anyObject),
  // format=json: the API's view; format=oscal: a NIST OSCAL 1.1.3 assessment-results document (also application/json).
  'GET /api/v1/zones/{id}/assessment': { ...json(anyObject), ...text('text/csv', 'one row per requirement and device'), ...text('text/html', 'a self-contained, printable report') },
  'GET /api/v1/devices/{id}/assessment': { ...json(anyObject), ...text('text/csv', 'one row per requirement'), ...text('text/html', 'a self-contained, printable report') },
  'PUT /api/v1/products/{id}/firmware/{version}/sbom': json(anyObject),
  'GET /api/v1/products/{id}/firmware/{version}/sbom': json(anyObject),
  'PUT /api/v1/products/{id}/lifecycle': json(anyObject),
  'GET /api/v1/products/{id}/lifecycle': json(anyObject),
  'POST /api/v1/advisories': json(anyObject),
  'GET /api/v1/advisories': json(arrayOf(anyObject)),
  'GET /api/v1/advisories/{id}': json(anyObject),
  'GET /api/v1/advisories/{id}/devices': json(anyObject),
  'POST /api/v1/vex': json(anyObject),
  'GET /api/v1/devices/{id}/exposure': json(anyObject),
};

const EMPTY_BODY = { description: 'no body', required: false, content: { 'application/json': { schema: { type: 'object', maxProperties: 0 } } } };

/** Request bodies that are not JSON DTOs, by "METHOD /path". */
const REQUEST_BODIES: Readonly<Record<string, Json>> = {
  'POST /api/v1/products/{id}/firmware': {
    required: true,
    description: 'the raw image (MCUboot binary or Intel HEX, or any image with X-Firmware-Manifest), streamed',
    content: binary('application/octet-stream'),
  },
  'POST /.well-known/est/simpleenroll': { required: true, content: text('application/pkcs10', 'base64 DER PKCS#10 CSR (RFC 7030 4.2.1)') },
  'POST /.well-known/est/{label}/simpleenroll': { required: true, content: text('application/pkcs10', 'base64 DER PKCS#10 CSR') },
  'POST /.well-known/est/simplereenroll': { required: true, content: text('application/pkcs10', 'base64 DER PKCS#10 CSR') },
  'POST /.well-known/est/{label}/simplereenroll': { required: true, content: text('application/pkcs10', 'base64 DER PKCS#10 CSR') },
  'POST /attestation/challenge': EMPTY_BODY,
  'POST /api/v1/devices/{id}/attest': EMPTY_BODY,
  'POST /api/v1/scores/rescore': EMPTY_BODY,
  'POST /api/v1/pki/issuing-ca/rollover': EMPTY_BODY,
  'POST /pki/ocsp': { required: true, content: binary('application/ocsp-request') },
  'POST /api/v1/events/tickets': EMPTY_BODY,
  'POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': EMPTY_BODY,
  'POST /api/v1/products/{id}/firmware/{version}/reference-values/event-log': { required: true, description: 'a known-good device\'s TCG PC Client binary event log', content: binary('application/octet-stream') },
  'PUT /api/v1/products/{id}/measured-boot-policy': { required: true, description: 'Fleetguard measured-boot policy JSON or a Keylime measured-boot reference state', content: json(anyObject) },
  'PUT /api/v1/products/{id}/runtime-policy': { required: true, description: 'Keylime runtime policy v1 (digests, excludes)', content: json(anyObject) },
  'POST /api/v1/products/{id}/corim': { required: true, content: { ...binary('application/rim+cbor'), ...binary('application/rim+cose') } },
  'PUT /api/v1/products/{id}/applicability': { required: true, description: '[{requirement, applicable, justification}]', content: json(arrayOf(anyObject)) },
  'POST /api/v1/zones': { required: true, description: '{name, targetLevels: {FR1..FR7}}', content: json(anyObject) },
  'PUT /api/v1/zones/{id}/target-levels': { required: true, description: '{targetLevels: {FR1..FR7}} (the zone\'s SL-T)', content: json(anyObject) },
  'PUT /api/v1/zones/{id}/devices': { required: true, description: '{add?: [ids], remove?: [ids]}', content: json(anyObject) },
  'POST /api/v1/zones/{id}/countermeasures': { required: true, description: '{requirement, description}', content: json(anyObject) },
  'PUT /api/v1/products/{id}/firmware/{version}/sbom': {
    required: true,
    description: 'CycloneDX 1.4-1.6 (JSON or XML) or SPDX 2.2/2.3 (JSON or tag-value), recognised from the content',
    content: { ...json(anyObject), ...text('application/xml', 'CycloneDX XML'), ...text('text/plain', 'SPDX tag-value') },
  },
  'PUT /api/v1/products/{id}/lifecycle': { required: true, description: '{generalAvailability, endOfSales, endOfSecuritySupport, endOfLife}', content: json(anyObject) },
  'POST /api/v1/advisories': { required: true, description: 'a CSAF 2.0 document', content: json(anyObject) },
  'POST /api/v1/vex': { required: true, description: 'OpenVEX, CycloneDX VEX or CSAF VEX', content: json(anyObject) },
};

/** JSON Schema 2020 → OAS 3.0 Schema Object, recursively, in place. */
function downgradeSchema(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(downgradeSchema);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const o = node as Json;
  delete o.$id;
  delete o.$schema;
  if ('const' in o) {
    o.enum = [o.const];
    delete o.const;
  }
  if (o.type === 'array' && (!o.items || Object.keys(o.items).length === 0)) o.items = { type: 'string' };
  if (o.items?.type === 'array' && !o.items.items) o.items = { type: 'string' };
  for (const value of Object.values(o)) downgradeSchema(value);
}

export function normalizeOpenApi<T extends object>(input: T): T {
  const doc = input as Json;
  doc.components ??= {};
  doc.components.schemas = { ...RESPONSE_SCHEMAS, ...(doc.components.schemas ?? {}) };
  doc.components.securitySchemes = {
    bearer: { type: 'http', scheme: 'bearer', description: 'an API key (`Authorization: Bearer fgk_...`), not a JWT' },
    estBasic: { type: 'http', scheme: 'basic', description: 'EST simpleenroll: HTTP Basic, the password is an enrollment token (the user name is ignored)' },
    eventTicket: { type: 'apiKey', in: 'query', name: 'ticket', description: 'a single-use ticket from POST /api/v1/events/tickets' },
  };
  // Relative to where the document is served: the operator listener. The device routes (`/attestation/challenge`,
  // `/attestation/evidence`, `/devices/self/hardening`, EST re-enroll) are served on the device listener (mutual TLS).
  doc.servers = [{ url: '/', description: 'the listener serving this document; device routes are on the device listener (mutual TLS, FLEETGUARD_DEVICE_PORT)' }];
  for (const [path, ops] of Object.entries<Json>(doc.paths ?? {})) {
    const template = [...path.matchAll(/{([^}]+)}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries<Json>(ops)) {
      const key = `${method.toUpperCase()} ${path}`;
      const seen = new Map<string, Json>();
      for (const p of (op.parameters ?? []) as Json[]) {
        if (p.in === 'path' && !template.includes(p.name)) continue;
        const id = `${p.in}:${p.in === 'header' ? String(p.name).toLowerCase() : p.name}`;
        const earlier = seen.get(id);
        // The documented declaration (with a description) wins; "required" only if both say so.
        if (earlier) seen.set(id, { ...earlier, ...p, required: Boolean(earlier.required && p.required) });
        else seen.set(id, p);
      }
      for (const name of template) {
        if (!seen.has(`path:${name}`)) seen.set(`path:${name}`, { name, in: 'path', required: true, schema: { type: 'string' } });
      }
      op.parameters = [...seen.values()];
      if (REQUEST_BODIES[key]) op.requestBody = REQUEST_BODIES[key];
      const success = Object.keys(op.responses ?? {}).find((code) => code.startsWith('2')) ?? (method === 'post' ? '201' : '200');
      op.responses ??= {};
      const content = RESPONSES[key];
      op.responses[success] = { ...(op.responses[success] ?? {}), description: op.responses[success]?.description || 'success', ...(content ? { content } : {}) };
      if (SUMMARIES[key]) op.summary ??= SUMMARIES[key];
      if (!op.security) op.security = SECURITY[key] ?? OPEN;
      if (NOT_ACCEPTABLE.has(key)) op.responses['406'] ??= { description: 'no representation the `Accept` header allows; the message names the media types offered', content: json(ref('Error')) };
      op.responses['4XX'] ??= { description: 'refused: the reason is in `code` and `message`', content: json(ref('Error')) };
      op.responses['5XX'] ??= { description: 'unexpected failure; `errorId` is in the log', content: json(ref('Error')) };
    }
  }
  downgradeSchema(doc.paths);
  downgradeSchema(doc.components.schemas);
  return input;
}

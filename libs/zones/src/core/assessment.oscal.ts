/**
 * The assessment as a NIST OSCAL 1.1.3 assessment-results document (JSON). Mapping:
 * - each device is an inventory item of the result's local definitions (`asset-id` = device id);
 * - each device's scoring is one observation (method TEST: automated appraisal of graded evidence),
 *   whose relevant evidence is the hardening report and the attestation result it rests on;
 * - each requirement is one finding whose target is the requirement as an objective
 *   (`satisfied` when every device meets it, is not-applicable, or a zone countermeasure covers it),
 *   related to the observations of the devices that miss it;
 * - compensating countermeasures are back-matter resources, linked from the findings they cover;
 * - import-ap points at a back-matter resource describing the continuous assessment plan (the
 *   catalog and rule-set versions), as Fleetguard keeps no separate OSCAL assessment plan.
 * Identifiers: devices get name-based UUIDs (RFC 9562 v5, SHA-1) so the same device keeps its
 * inventory UUID across exports; everything else is a random v4 UUID per document.
 */
import { createHash, randomUUID } from 'node:crypto';
import { FR_KEYS } from '@fleetguard/hardening';
import type { AssessmentRow, ZoneAssessment } from './zone.assessment';

export const OSCAL_VERSION = '1.1.3';
/** Namespace of Fleetguard's own OSCAL properties. */
export const OSCAL_NS = 'urn:fleetguard:ns:oscal';
/** RFC 9562 v5 namespace for device inventory UUIDs (a fixed random UUID). */
const DEVICE_NAMESPACE = 'a3c0f4d2-5e71-4c8b-9d2e-6f1b7a0c3e95';

/** RFC 9562 name-based UUID, version 5 (SHA-1). */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const UUID_V4_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** A requirement id as an OSCAL token: `CR 1.1 RE(2)` → `cr_1.1_re-2`. */
export function requirementToken(requirement: string): string {
  return requirement
    .toLowerCase()
    .replace(/\s*re\((\d+)\)/g, '_re-$1')
    .replace(/\s+/g, '_');
}

interface Prop {
  name: string;
  value: string;
  ns?: string;
  class?: string;
}
const prop = (name: string, value: string | number, cls?: string): Prop => ({ name, ns: OSCAL_NS, value: String(value), ...(cls ? { class: cls } : {}) });

export interface OscalInput {
  title: string;
  subject: string;
  generatedAt: string;
  assessment: ZoneAssessment;
  rows: readonly AssessmentRow[];
  /** Versions when there are no rows (an empty zone). */
  versions: { rulesVersion: string; catalogVersion: string };
}

/** Builds the document (a plain object: `JSON.stringify` it). */
export function assessmentOscal(input: OscalInput): Record<string, unknown> {
  const { assessment: a, rows, generatedAt } = input;
  const rulesVersion = rows[0]?.rulesVersion ?? input.versions.rulesVersion;
  const catalogVersion = rows[0]?.catalogVersion ?? input.versions.catalogVersion;
  const planUuid = randomUUID();

  // Devices in the order they were assessed, with their observation UUID.
  const devices = new Map<string, { inventory: string; observation: string; rows: AssessmentRow[] }>();
  const requirements = new Map<string, { fr: string; sl: number; rows: AssessmentRow[] }>();
  for (const r of rows) {
    let d = devices.get(r.deviceId);
    if (!d) devices.set(r.deviceId, (d = { inventory: uuidV5(DEVICE_NAMESPACE, r.deviceId), observation: randomUUID(), rows: [] }));
    d.rows.push(r);
    let q = requirements.get(r.requirement);
    if (!q) requirements.set(r.requirement, (q = { fr: r.fr, sl: r.sl, rows: [] }));
    q.rows.push(r);
  }

  const cmUuid = new Map<string, string>();
  for (const c of a.countermeasures) cmUuid.set(c.id, UUID_V4_V5.test(c.id) ? c.id.toLowerCase() : uuidV5(DEVICE_NAMESPACE, `countermeasure:${c.id}`));

  const inventory = [...devices].map(([id, d]) => {
    const release = d.rows[0]?.firmwareRelease;
    return {
      uuid: d.inventory,
      description: `Device ${id}`,
      props: [{ name: 'asset-id', value: id }, ...(release ? [prop('firmware-release', release)] : [])],
    };
  });

  const observations = [...devices].map(([id, d]) => {
    const first = d.rows[0];
    const count = (pred: (r: AssessmentRow) => boolean) => d.rows.filter(pred).length;
    const met = count((r) => r.verdict === 'evidenced');
    const na = count((r) => r.verdict === 'not-applicable');
    const evidence = [
      ...(first.reportId ? [{ href: `urn:fleetguard:hardening-report:${first.reportId}`, description: 'The hardening report whose facts were scored.' }] : []),
      ...(first.attestationResultId
        ? [{ href: `urn:fleetguard:attestation-result:${first.attestationResultId}`, description: 'The attestation result (appraisal) the grades rest on.' }]
        : []),
    ];
    const grades = new Map<string, number>();
    for (const r of d.rows) if (r.grade && r.verdict === 'evidenced') grades.set(r.grade, (grades.get(r.grade) ?? 0) + 1);
    return {
      uuid: d.observation,
      title: `Scoring of device ${id}`,
      description:
        `Fleetguard scored device ${id} against IEC 62443-4-2 (${catalogVersion}, ${rulesVersion}) from graded evidence: ` +
        `${met} requirement(s) evidenced, ${na} not applicable, ${d.rows.length - met - na} not met.`,
      props: [
        prop('rule-set-version', first.rulesVersion),
        prop('catalog-version', first.catalogVersion),
        ...[...grades].map(([g, n]) => prop('evidenced-items', n, `grade-${g}`)),
      ],
      methods: ['TEST'],
      types: ['control-objective'],
      subjects: [{ 'subject-uuid': d.inventory, type: 'inventory-item' }],
      ...(evidence.length ? { 'relevant-evidence': evidence } : {}),
      collected: generatedAt,
    };
  });

  const findings = [...requirements].map(([req, q]) => {
    const unmet = q.rows.filter((r) => r.verdict !== 'evidenced' && r.verdict !== 'not-applicable' && !r.countermeasure);
    const covered = q.rows.filter((r) => r.countermeasure);
    const na = q.rows.filter((r) => r.verdict === 'not-applicable').length;
    const evidenced = q.rows.length - unmet.length - covered.length - na;
    const cms = [...new Set(covered.map((r) => r.countermeasure!))];
    const satisfied = unmet.length === 0;
    return {
      uuid: randomUUID(),
      title: req,
      description:
        `IEC 62443-4-2 ${req} (${q.fr}, first needed at SL ${q.sl}): evidenced on ${evidenced}, not applicable on ${na}` +
        `${covered.length ? `, covered by a compensating countermeasure on ${covered.length}` : ''}, not met on ${unmet.length} of ${q.rows.length} device(s).`,
      props: [prop('requirement', req), prop('fr', q.fr), prop('sl', q.sl), prop('devices-not-met', unmet.length)],
      ...(cms.length ? { links: cms.map((id) => ({ href: `#${cmUuid.get(id)}`, rel: 'reference', text: 'compensating countermeasure' })) } : {}),
      target: {
        type: 'objective-id',
        'target-id': requirementToken(req),
        title: req,
        status: { state: satisfied ? 'satisfied' : 'not-satisfied', reason: satisfied ? (covered.length || evidenced === 0 ? 'other' : 'pass') : 'fail' },
      },
      ...(unmet.length ? { 'related-observations': unmet.map((r) => ({ 'observation-uuid': devices.get(r.deviceId)!.observation })) } : {}),
    };
  });

  const levelProps: Prop[] = [];
  for (const k of FR_KEYS) {
    levelProps.push(prop('sl-t', a.slT[k], k.toLowerCase()));
    const slA = a.slA[k];
    if (slA !== null) levelProps.push(prop('sl-a', slA, k.toLowerCase()));
    const without = a.perFr[k].slAWithoutCountermeasures;
    if (without !== null) levelProps.push(prop('sl-a-without-countermeasures', without, k.toLowerCase()));
  }

  const result = {
    uuid: randomUUID(),
    title: input.title,
    description:
      `${input.subject}: ${a.devices} device(s). Levels are SL-C as configured, from graded evidence (attested, observed, reported, declared); ` +
      `SL-A per FR is the lowest device level, raised for a requirement only by a recorded compensating countermeasure. ` +
      `Below target: ${a.belowTarget.length ? a.belowTarget.join(', ') : 'none'}.`,
    start: generatedAt,
    end: generatedAt,
    props: [prop('devices', a.devices), ...levelProps],
    ...(inventory.length ? { 'local-definitions': { 'inventory-items': inventory } } : {}),
    'reviewed-controls': {
      description: `The requirements of IEC 62443-4-2 catalog ${catalogVersion} applicable to the devices' component types.`,
      'control-selections': requirements.size
        ? [{ 'include-controls': [...requirements.keys()].map((r) => ({ 'control-id': requirementToken(r) })) }]
        : [{ 'include-all': {} }],
    },
    ...(observations.length ? { observations } : {}),
    ...(findings.length ? { findings } : {}),
  };

  const resources = [
    {
      uuid: planUuid,
      title: 'Fleetguard continuous assessment plan',
      description: `Every device is scored continuously against IEC 62443-4-2 catalog ${catalogVersion} with rule set ${rulesVersion}; the product's statement of applicability decides applicability.`,
      props: [prop('catalog-version', catalogVersion), prop('rule-set-version', rulesVersion)],
    },
    ...a.countermeasures.map((c) => ({
      uuid: cmUuid.get(c.id)!,
      title: `Compensating countermeasure for ${c.requirement}`,
      description: c.description,
      props: [
        prop('requirement', c.requirement),
        prop('recorded-at', c.recordedAt),
        ...c.raised.map((r) => prop('raised-devices', r.devices.length, r.fr.toLowerCase())),
      ],
    })),
  ];

  return {
    'assessment-results': {
      uuid: randomUUID(),
      metadata: {
        title: input.title,
        'last-modified': generatedAt,
        version: `${catalogVersion}+${rulesVersion}`,
        'oscal-version': OSCAL_VERSION,
        props: [prop('subject', input.subject)],
      },
      'import-ap': { href: `#${planUuid}`, remarks: 'The plan is the back-matter resource: Fleetguard assesses continuously rather than from a separate plan document.' },
      results: [result],
      'back-matter': { resources },
    },
  };
}

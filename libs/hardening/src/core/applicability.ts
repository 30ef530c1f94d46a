/** The shape of a statement of applicability as it arrives (PUT /products/:id/applicability). */
import { invalid } from '@fleetguard/common';
import type { ApplicabilityStatement } from './sl-c.scoring';

export const MAX_APPLICABILITY_ENTRIES = 500;
const KEYS = new Set(['requirement', 'applicable', 'justification']);

/**
 * Checks the body's shape: a list of at most 500 `{requirement, applicable, justification}`
 * objects with no other fields. What each entry means is checked by the scorer (`declare`).
 * Throws `hardening.invalid-applicability` naming the problems.
 */
export function parseApplicabilityBody(body: unknown): ApplicabilityStatement[] {
  const fail = (problems: string[]): never => {
    throw invalid('hardening.invalid-applicability', `invalid statement of applicability: ${problems.slice(0, 20).join('; ')}`, { problems });
  };
  if (!Array.isArray(body)) fail(['the body must be a JSON array of {requirement, applicable, justification}']);
  const list = body as unknown[];
  if (list.length > MAX_APPLICABILITY_ENTRIES) fail([`at most ${MAX_APPLICABILITY_ENTRIES} entries`]);
  const problems: string[] = [];
  list.forEach((e, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return void problems.push(`entry ${i} must be an object`);
    const extra = Object.keys(e).filter((k) => !KEYS.has(k));
    if (extra.length) problems.push(`entry ${i} has unknown field(s) ${extra.join(', ')}`);
    const r = (e as Record<string, unknown>).requirement;
    if (typeof r !== 'string' || r.length > 40) problems.push(`entry ${i}: requirement must be a catalog id`);
  });
  if (problems.length) fail(problems);
  return list as ApplicabilityStatement[];
}

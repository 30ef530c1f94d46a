import Negotiator from 'negotiator';
import { DomainError } from '@fleetguard/common';
import { EAR_DRAFT_PROFILE, EAR_PROFILE, EarForm } from './ear.builder';

/**
 * Which EAR a client asked for in `Accept` (RFC 9110 12.5.1, parsed by the `negotiator` package):
 *  - `application/json` (or no Accept, or `*` / `application/*`): the JSON answer with the EAR in
 *    the configured form;
 *  - `application/eat+jwt; eat_profile="<profile>"` (RFC 9782's EAT media type with the EAR's
 *    profile; the EAR draft's own text spells it `application/eat-jwt`, also taken): the EAR itself
 *    in that profile's form, draft-ietf-rats-ear-04 or veraison/ear;
 *  - `application/eat+jwt` without a profile, or `application/jwt`: the EAR in the configured form.
 * Anything else is refused with 406, naming what is offered. q-values and order are honoured.
 */
export type EarAnswer = { kind: 'json' } | { kind: 'jwt'; form: EarForm; contentType: string };

const PROFILE: Record<EarForm, string> = { draft: EAR_DRAFT_PROFILE, veraison: EAR_PROFILE };

export function negotiateEar(accept: string | undefined, defaultForm: EarForm, options: { json: boolean }): EarAnswer {
  const other: EarForm = defaultForm === 'draft' ? 'veraison' : 'draft';
  const offered: Array<[string, EarAnswer]> = [];
  if (options.json) offered.push(['application/json', { kind: 'json' }]);
  for (const base of ['application/eat+jwt', 'application/eat-jwt']) {
    for (const form of [defaultForm, other]) {
      const type = `${base}; eat_profile="${PROFILE[form]}"`;
      offered.push([type, { kind: 'jwt', form, contentType: type }]);
    }
  }
  offered.push(['application/jwt', { kind: 'jwt', form: defaultForm, contentType: 'application/jwt' }]);
  let chosen: string | undefined;
  try {
    chosen = new Negotiator({ headers: { accept: accept ?? '*/*' } }).mediaType(offered.map(([t]) => t));
  } catch {
    throw notAcceptable(`the Accept header is not readable (RFC 9110 12.5.1; quote a profile: eat_profile="${EAR_DRAFT_PROFILE}")`, offered);
  }
  const hit = offered.find(([t]) => t === chosen);
  if (!hit) throw notAcceptable(`none of the media types in Accept is offered`, offered);
  return hit[1];
}

function notAcceptable(why: string, offered: Array<[string, EarAnswer]>): DomainError {
  const types = [...new Set(offered.map(([t]) => t.replace('application/eat-jwt', 'application/eat+jwt')))];
  return new DomainError('ear.not-acceptable', `${why}; offered: ${types.join(', ')}`, 'not-acceptable', { offered: types });
}

/**
 * The one write of another lib's results onto fleet's device rows: the security levels hardening
 * computes (sl_evidenced, sl_declared, below_target), kept on the row because fleet's listings
 * sort and filter on them. Fleet owns the statement's text; hardening puts it in its score
 * statement as a CTE, so a history entry and the levels it produced commit in one statement (the
 * fleet-wide rescore writes 2,000 devices per statement this way).
 *
 * `relation` names a relation of the enclosing statement (a CTE) with the columns device_id
 * (varchar), evidenced (jsonb), declared (jsonb) and below_target (boolean); `filter`, an optional
 * condition on its columns (the relation is aliased `l`), picks the rows to write.
 */
export function deviceLevelsUpdate(relation: string, filter = 'true'): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(relation)) throw new Error(`deviceLevelsUpdate: ${relation} is not a relation name`);
  return `UPDATE devices d SET sl_evidenced = l.evidenced, sl_declared = l.declared, below_target = l.below_target
           FROM ${relation} l WHERE d.id = l.device_id AND (${filter})`;
}

/**
 * Gaps between a device's score and a target SL-T vector: per FR, the applicable items required at
 * or below the target level that are not met in the chosen vector.
 */
import { invalid } from '@fleetguard/common';
import { FR_KEYS, type FrKey, type SecurityLevel, type SlValue } from './catalog';
import type { FactValue } from './fact-condition.evaluator';
import type { DeviceScore, ItemStatus, ScoreVectorName } from './sl-c.scoring';

export type TargetLevels = Partial<Record<FrKey, SlValue>>;

export interface GapItem {
  readonly id: string;
  readonly sl: SecurityLevel;
  readonly status: ItemStatus;
  readonly reason: string;
  readonly rule: string | undefined;
  /** For contradicted items: the facts that contradicted it. */
  readonly facts: readonly FactValue[] | undefined;
  readonly uncertain: true | undefined;
}

export interface FrGap {
  readonly target: SlValue;
  readonly achieved: SlValue;
  /** Unmet items with sl ≤ target, lowest level first (catalog order within a level). */
  readonly items: readonly GapItem[];
}

export type Gaps = Record<FrKey, FrGap>;

/**
 * The gaps per FR. `targetLevels` may omit FRs (target 0, no gaps). In the `evidenced` vector
 * declared items are gaps too; in the `declared` vector only contradicted and missing ones are.
 * Throws `hardening.invalid-target` for a level outside 0..4 or an unknown key.
 */
export function gaps(score: DeviceScore, targetLevels: TargetLevels, vector: ScoreVectorName = 'evidenced'): Gaps {
  if (typeof targetLevels !== 'object' || targetLevels === null) {
    throw invalid('hardening.invalid-target', 'target levels must be an object {FR1..FR7: 0..4}');
  }
  const problems: string[] = [];
  for (const [k, v] of Object.entries(targetLevels)) {
    if (!(FR_KEYS as readonly string[]).includes(k)) problems.push(`unknown key "${k}" (expected FR1..FR7)`);
    else if (!(Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 4)) problems.push(`${k} must be an integer 0..4`);
  }
  if (vector !== 'evidenced' && vector !== 'declared') problems.push('vector must be "evidenced" or "declared"');
  if (problems.length) throw invalid('hardening.invalid-target', `invalid target levels: ${problems.join('; ')}`, { problems });

  const unmet = (s: ItemStatus) =>
    s === 'contradicted' || s === 'missing' || (vector === 'evidenced' && s === 'declared');
  const out = {} as Record<FrKey, FrGap>;
  for (const key of FR_KEYS) {
    const target = targetLevels[key] ?? 0;
    const fr = FR_KEYS.indexOf(key) + 1;
    const items = score.items
      .filter((it) => it.fr === fr && it.sl <= target && unmet(it.status))
      .sort((a, b) => a.sl - b.sl)
      .map<GapItem>((it) => ({
        id: it.id,
        sl: it.sl,
        status: it.status,
        reason: it.reason,
        rule: it.rule,
        facts: it.facts,
        uncertain: it.uncertain,
      }));
    out[key] = { target, achieved: score[vector][key], items };
  }
  return out;
}

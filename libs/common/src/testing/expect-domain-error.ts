import { DomainError } from '../core/domain-error';

/**
 * The DomainError that `action` (a promise, or a function that throws or rejects) ends with;
 * fails the test when it succeeds, throws something else, or (with `code`) refuses with another code.
 */
export async function expectDomainError(action: Promise<unknown> | (() => unknown), code?: string): Promise<DomainError> {
  let thrown: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`expected a DomainError${code ? ` (${code})` : ''}, but it succeeded`);
  if (!(thrown instanceof DomainError)) throw new Error(`expected a DomainError${code ? ` (${code})` : ''}, got ${String((thrown as Error)?.stack ?? thrown)}`);
  if (code !== undefined && thrown.code !== code) throw new Error(`expected DomainError ${code}, got ${thrown.code}: ${thrown.message}`);
  return thrown;
}

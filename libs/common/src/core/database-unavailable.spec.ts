import { isDatabaseUnavailable } from './database-unavailable';

describe('isDatabaseUnavailable', () => {
  it('recognises connection loss, shutdown, a full disk and socket errors', () => {
    for (const e of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      Object.assign(new Error('could not extend file: No space left on device'), { code: '53100' }),
      Object.assign(new Error('x'), { code: '08006' }),
      new Error('Connection terminated unexpectedly'),
      { message: 'query failed', driverError: Object.assign(new Error('boom'), { code: '08001' }) },
      new Error('RuntimeError: Aborted(). Build with -sASSERTIONS for more info.'),
    ]) {
      expect(isDatabaseUnavailable(e)).toBe(true);
    }
  });

  it('does not take bugs or constraint violations for an outage', () => {
    for (const e of [
      Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }),
      Object.assign(new Error('syntax error at or near'), { code: '42601' }),
      new TypeError('cannot read properties of undefined'),
      null,
      'ECONNREFUSED',
    ]) {
      expect(isDatabaseUnavailable(e)).toBe(false);
    }
  });
});

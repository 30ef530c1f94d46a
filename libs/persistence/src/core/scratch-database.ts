import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * A fresh, uniquely named database on a PostgreSQL server (tests and benchmarks), and the way to
 * drop it again. `serverUrl` points at any database the role may connect to (e.g. `postgres`).
 */
export async function createScratchDatabase(serverUrl: string, prefix = 'fleetguard_t'): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  if (!/^[a-z_][a-z0-9_]{0,30}$/.test(prefix)) throw new Error(`bad database prefix '${prefix}'`);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const c = new Client({ connectionString: serverUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), name, drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

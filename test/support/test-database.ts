import { DatabaseSettings } from '@fleetguard/persistence/nest';
import { createScratchDatabase } from '@fleetguard/persistence';

/**
 * Tests run on the embedded PGlite by default. With FLEETGUARD_TEST_PG set to a PostgreSQL server
 * URL (e.g. postgres://postgres@127.0.0.1:5432/postgres), each caller gets a fresh database on it
 * instead — `.ci/run` runs the suite both ways.
 */
export const TEST_PG_URL = process.env.FLEETGUARD_TEST_PG;

export async function createPostgresDatabase(serverUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  return createScratchDatabase(serverUrl, 'fleetguard_t');
}

/** Database settings for one test file: PostgreSQL when FLEETGUARD_TEST_PG is set, else PGlite in memory. */
export async function testDatabase(): Promise<{ settings: DatabaseSettings; drop: () => Promise<void> }> {
  if (TEST_PG_URL) {
    const db = await createPostgresDatabase(TEST_PG_URL);
    return { settings: { databaseUrl: db.url, dataDir: '/tmp' }, drop: db.drop };
  }
  return { settings: { dataDir: '/tmp', inMemory: true }, drop: async () => undefined };
}

import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * RFC 9711 UEIDs: the UEID a manufacturer gave the device (hex, 7..33 bytes, type byte first),
 * recorded at enrollment (fleet) and compared with the EAT `ueid` claim (attestation). A UEID
 * names one entity: two active devices may not share one.
 */
export class DeviceUeid1764200130000 implements MigrationInterface {
  name = 'DeviceUeid1764200130000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE devices ADD COLUMN ueid varchar(66)`);
    await q.query(`CREATE UNIQUE INDEX devices_ueid_active ON devices (ueid) WHERE ueid IS NOT NULL AND status = 'active'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX devices_ueid_active`);
    await q.query(`ALTER TABLE devices DROP COLUMN ueid`);
  }
}

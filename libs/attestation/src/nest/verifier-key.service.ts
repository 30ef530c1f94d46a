import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppConfig, DomainError, describeKeyProtection, isWeakKeyProtection, keyProtectionOf } from '@fleetguard/common';
import { APP_CONFIG, ClusterBus } from '@fleetguard/platform/nest';
import { VerifierKey, createVerifierKey, exportVerifierJwk, exportVerifierKeyPem, loadVerifierKey } from '../core/ear.builder';

const VERIFIER_LOCK_KEY = 0x564b5931; // 'VKY1'

/**
 * The verifier's EAR signing key, encrypted with the CA passphrase: the fleet's one key, kept in
 * the database (`verifier_keys`) and mirrored beside the CA. Made on the fleet's first start;
 * another instance adopts it; an instance holding another key in its certs directory refuses to
 * start naming both key ids (relying parties check EARs against one published key).
 */
@Injectable()
export class VerifierKeyService implements OnModuleInit {
  private readonly logger = new Logger('VerifierKey');
  private key!: VerifierKey;
  private jwk!: Awaited<ReturnType<typeof exportVerifierJwk>>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly cluster: ClusterBus,
  ) {}

  get verifierKey(): VerifierKey {
    return this.key;
  }

  get publicJwk() {
    return this.jwk;
  }

  async onModuleInit(): Promise<void> {
    const file = path.join(this.config.certsDir, 'verifier-key.enc.pem');
    const passphrase = this.config.caPassphrase ?? this.devPassphrase();
    const open = async (pem: string, where: string) => {
      try {
        return await loadVerifierKey(pem, passphrase);
      } catch (e) {
        if (e instanceof DomainError) throw new Error(`cannot open the verifier key ${where}: ${e.message} (is FLEETGUARD_CA_PASSPHRASE the fleet's?)`);
        throw e;
      }
    };
    const localPem = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    const local = localPem ? await open(localPem, `in ${file}`) : undefined;
    const pem = await this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [VERIFIER_LOCK_KEY]);
      const rows: Array<{ key_pem: string; stored_at: Date; stored_by: string }> = await m.query('SELECT key_pem, stored_at, stored_by FROM verifier_keys WHERE id = 1');
      if (rows.length) {
        const fleet = await open(rows[0].key_pem, `stored in the database by ${rows[0].stored_by}`);
        const protection = keyProtectionOf(rows[0].key_pem);
        if (isWeakKeyProtection(protection) && (!local || local.kid === fleet.kid)) {
          // Written by an earlier version (2,048 PBKDF2 iterations): written again under today's parameters.
          const again = exportVerifierKeyPem(fleet, passphrase);
          await m.query('UPDATE verifier_keys SET key_pem = $1 WHERE id = 1', [again]);
          this.logger.warn(`the verifier key was encrypted with ${describeKeyProtection(protection)}: written again with PBKDF2-hmacWithSHA256, 600000 iterations`);
          return again;
        }
        if (local && local.kid !== fleet.kid) {
          throw new Error(
            `the verifier key in ${file} (kid ${local.kid}) is not the fleet's (kid ${fleet.kid}, stored ${new Date(rows[0].stored_at).toISOString()} by ${rows[0].stored_by}): ` +
              `remove ${file} to adopt the fleet's key, or point DATABASE_URL at this key's own database`,
          );
        }
        return rows[0].key_pem;
      }
      // A local key of an earlier version is stored under today's parameters.
      const made = local && localPem && !isWeakKeyProtection(keyProtectionOf(localPem)) ? localPem : exportVerifierKeyPem(local ?? (await createVerifierKey()), passphrase);
      if (local && made !== localPem) this.logger.warn(`the verifier key in ${file} was encrypted with ${describeKeyProtection(keyProtectionOf(localPem!))}: written again with PBKDF2-hmacWithSHA256, 600000 iterations`);
      await m.query('INSERT INTO verifier_keys (id, key_pem, stored_by) VALUES (1, $1, $2)', [made, this.cluster.instanceId]);
      return made;
    });
    this.key = await open(pem, 'from the database');
    if (pem !== localPem) {
      // Replaced by a rename: a crash leaves the old file or the new one.
      fs.mkdirSync(this.config.certsDir, { recursive: true });
      fs.writeFileSync(`${file}.new`, pem, { mode: 0o600 });
      fs.renameSync(`${file}.new`, file);
    }
    this.jwk = await exportVerifierJwk(this.key);
  }

  private devPassphrase(): string {
    // Written by the PKI module on first start in development (see CaService).
    return fs.readFileSync(path.join(this.config.certsDir, 'dev-ca-passphrase'), 'utf8').trim();
  }
}

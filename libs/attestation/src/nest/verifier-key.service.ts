import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppConfig, describeKeyProtection, isWeakKeyProtection, keyProtectionOf } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform';
import { VerifierKey, createVerifierKey, exportVerifierJwk, exportVerifierKeyPem, loadVerifierKey } from '../core/ear.builder';

/** The verifier's EAR signing key: created beside the CA on first start, encrypted with the CA passphrase. */
@Injectable()
export class VerifierKeyService implements OnModuleInit {
  private readonly logger = new Logger('VerifierKey');
  private key!: VerifierKey;
  private jwk!: Awaited<ReturnType<typeof exportVerifierJwk>>;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get verifierKey(): VerifierKey {
    return this.key;
  }

  get publicJwk() {
    return this.jwk;
  }

  async onModuleInit(): Promise<void> {
    const file = path.join(this.config.certsDir, 'verifier-key.enc.pem');
    const passphrase = this.config.caPassphrase ?? this.devPassphrase();
    if (fs.existsSync(file)) {
      const pem = fs.readFileSync(file, 'utf8');
      this.key = await loadVerifierKey(pem, passphrase);
      const protection = keyProtectionOf(pem);
      if (isWeakKeyProtection(protection)) {
        // Written by an earlier version (2,048 PBKDF2 iterations): written again under today's parameters.
        fs.writeFileSync(`${file}.new`, exportVerifierKeyPem(this.key, passphrase), { mode: 0o600 });
        fs.renameSync(`${file}.new`, file);
        this.logger.warn(`verifier-key.enc.pem was encrypted with ${describeKeyProtection(protection)}: written again with PBKDF2-hmacWithSHA256, 600000 iterations`);
      }
    } else {
      this.key = await createVerifierKey();
      fs.mkdirSync(this.config.certsDir, { recursive: true });
      fs.writeFileSync(file, exportVerifierKeyPem(this.key, passphrase), { mode: 0o600 });
    }
    this.jwk = await exportVerifierJwk(this.key);
  }

  private devPassphrase(): string {
    // Written by the PKI module on first start in development (see CaService).
    return fs.readFileSync(path.join(this.config.certsDir, 'dev-ca-passphrase'), 'utf8').trim();
  }
}

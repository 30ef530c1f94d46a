import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppConfig } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform';
import { VerifierKey, createVerifierKey, exportVerifierJwk, exportVerifierKeyPem, loadVerifierKey } from '../core/ear.builder';

/** The verifier's EAR signing key: created beside the CA on first start, encrypted with the CA passphrase. */
@Injectable()
export class VerifierKeyService implements OnModuleInit {
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
      this.key = await loadVerifierKey(fs.readFileSync(file, 'utf8'), passphrase);
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

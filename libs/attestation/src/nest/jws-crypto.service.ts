import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import type { JwsVerification } from '../core/jws.compact';
import { JwsCrypto, JwsPool } from '../core/jws.pool';

/** The attestation's signatures (evidence verified, EARs signed) on worker threads (jws.pool.ts), one per core but one. */
@Injectable()
export class JwsCryptoService implements JwsCrypto, OnModuleDestroy {
  private readonly pool = new JwsPool();

  verify(jws: string, key: KeyObject, algorithms: readonly string[]): Promise<JwsVerification> {
    return this.pool.verify(jws, key, algorithms);
  }

  sign(signingInput: string, alg: string, key: KeyObject): Promise<string> {
    return this.pool.sign(signingInput, alg, key);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }
}

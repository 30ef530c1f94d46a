import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { CsrCheckPool } from '../core/csr-check.pool';
import { CsrCheckOptions, ParsedCsr } from '../core/csr.check';

/** CSR checks for enrollment and EST, on worker threads (csr-check.pool.ts), one per core but one. */
@Injectable()
export class CsrCheckService implements OnModuleDestroy {
  private readonly pool = new CsrCheckPool();

  constructor() {
    new Logger('PKI').log(`CSR checks: ${this.pool.mode === 'workers' ? 'on worker threads' : 'inline (no compiled worker)'}`);
  }

  check(input: string | Buffer, options: CsrCheckOptions): Promise<ParsedCsr> {
    return this.pool.check(input, options);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }
}

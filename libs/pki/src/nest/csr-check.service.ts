import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { KeyObject } from 'node:crypto';
import { DeviceIssue } from '../core/certificate-authority';
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

  /** The check, then the device certificate of `issue` signed with `key`, on the workers (CsrCheckPool.checkAndIssue). */
  checkAndIssue(input: string | Buffer, options: CsrCheckOptions, issue: DeviceIssue, key: KeyObject): Promise<{ csr: ParsedCsr; der: Buffer; pem: string }> {
    return this.pool.checkAndIssue(input, options, issue, key);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }
}

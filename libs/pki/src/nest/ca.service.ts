import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AppConfig, DomainError } from '@fleetguard/common';
import { APP_CONFIG, ClusterBus } from '@fleetguard/platform/nest';
import { caDifference, caIdentity } from '../core/ca-identity';
import { BuiltCrl, CaMaterial, CertificateAuthority, IssuedCertificate } from '../core/certificate-authority';
import { decryptPrivateKey, encryptPrivateKey, generateCaKey, reencryptIfWeak } from '../core/ca-key.codec';
import { Pkcs11Token } from '../core/pkcs11.signer';
import { CaSigner, KeyObjectSigner } from '../core/x509.signer';
import { crlDistributionUrlOf } from '../core/certificate-fields.reader';
import { OcspIssuer } from '../core/ocsp.responder';
import { DerInput } from '../core/der-input.codec';
import { CsrCheckOptions, ParsedCsr } from '../core/csr.check';
import type { CsrCheckService } from './csr-check.service';
import { KNOWN_CERTIFICATES, VerifiedDeviceCertificate, VerifyDeviceCertificateOptions } from '../core/device-certificate.check';

const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

/** The root CRL lists revoked CA certificates; it changes rarely, so it is long-lived and refreshed at a quarter left. */
/** In a token, the root key's label is the issuing key's label with this suffix. */
const ROOT_KEY_SUFFIX = '-root';
const ROOT_CRL_VALIDITY_MS = 30 * 24 * 3600_000;
/** Held while an instance reads, or creates and stores, the fleet's CA (two first starts at once make one CA). */
const CA_LOCK_KEY = 0x43414d31; // 'CAM1'

const FILES = {
  rootCertPem: 'root-ca.crt.pem',
  rootKeyPem: 'root-ca.key.enc.pem',
  intermediateCertPem: 'issuing-ca.crt.pem',
  intermediateKeyPem: 'issuing-ca.key.enc.pem',
} as const;

/** Issuing CAs after the first (rollover): `issuing-ca-<n>.crt.pem`, key `issuing-ca-<n>.key.enc.pem` or token label `<label>-<n>`. */
const generationFile = (n: number, kind: 'crt' | 'key.enc') => `issuing-ca-${n}.${kind}.pem`;
const GENERATION_FILE = /^issuing-ca-(\d+)\.crt\.pem$/;
/** Held while an instance stores or reads the fleet's later issuing CAs (`ca_generations`). */
const GENERATIONS_LOCK_KEY = 0x43414732; // 'CAG2'
/** How often an instance re-reads `ca_generations` (the cluster bus message of a rollover may be lost). */
const GENERATIONS_RECHECK_MS = 60_000;

interface StoredGeneration {
  generation: number;
  certPem: string;
  /** Encrypted with the fleet's passphrase; null when the key is in the PKCS#11 token. */
  keyPem: string | null;
  createdAt: string;
  createdBy: string;
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

export interface IssuingCaGeneration {
  generation: number;
  authority: CertificateAuthority;
}

export interface IssuedDeviceCertificate extends IssuedCertificate {
  /** The issuing CA that signed it. */
  caGeneration: number;
}

export interface ServerTls {
  key: string;
  cert: string;
  /** Trust anchors for client certificates (intermediate + root). */
  ca: string;
}

/**
 * The device CA of this service: created on first start (keys encrypted with the configured
 * passphrase), kept in the database (`ca_material`) and mirrored into the certs directory, and
 * loaded on later starts. The database copy is the fleet's: every instance on that database uses
 * that one CA. An instance whose certs directory holds another CA refuses to start naming the
 * difference; one with an empty certs directory adopts the fleet's (it needs the fleet's
 * passphrase to open the keys). Also holds the TLS server certificate the device listener and
 * the MQTT broker present, issued by the same CA.
 */
@Injectable()
export class CaService implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('PKI');
  private authority!: CertificateAuthority;
  /** Every issuing CA, oldest first; the last one issues. */
  private generationList: IssuingCaGeneration[] = [];
  private readonly changes = new EventEmitter();
  private turn: Promise<unknown> = Promise.resolve();
  private recheck?: NodeJS.Timeout;
  private tls!: ServerTls;
  private publicBaseUrl?: string;
  private material?: CaMaterial;
  private passphraseValue?: string;
  private rootCrl?: BuiltCrl;
  private token?: Pkcs11Token;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly cluster: ClusterBus,
  ) {}

  get ca(): CertificateAuthority {
    return this.authority;
  }

  get serverTls(): ServerTls {
    return this.tls;
  }

  /**
   * The chain devices trust: the issuing intermediate, then the intermediates of earlier
   * generations still in use (newest first), then the root, PEM.
   */
  get chainPem(): string {
    return this.intermediatesPem + this.authority.rootCertPem;
  }

  /** Every issuing CA certificate, the current one first. */
  get intermediatesPem(): string {
    return [...this.generationList].reverse().map((g) => g.authority.intermediateCertPem).join('');
  }

  /** The issuing CAs, oldest first (the last issues). */
  get generations(): readonly IssuingCaGeneration[] {
    return this.generationList;
  }

  get currentGeneration(): number {
    return this.generationList[this.generationList.length - 1]?.generation ?? 1;
  }

  authorityOf(generation: number): CertificateAuthority | undefined {
    return this.generationList.find((g) => g.generation === generation)?.authority;
  }

  /** Called with the new TLS identity after a rollover (listeners swap their secure context). */
  onTlsChanged(listener: (tls: ServerTls) => void): void {
    this.changes.on('tls', listener);
  }

  /**
   * A device certificate of any of our issuing CAs (the current one first): a device of an older
   * CA keeps connecting until its certificate expires.
   */
  verifyDeviceCertificate(certificate: DerInput | X509Certificate, options?: VerifyDeviceCertificateOptions): VerifiedDeviceCertificate & { caGeneration: number } {
    let firstError: unknown;
    for (let i = this.generationList.length - 1; i >= 0; i--) {
      const g = this.generationList[i];
      try {
        // Extended in place, not spread: spreading would read the key the answer exports only when asked.
        return Object.assign(g.authority.verifyDeviceCertificate(certificate, options), { caGeneration: g.generation });
      } catch (e) {
        if (!(e instanceof DomainError && e.code === 'cert.untrusted')) throw e;
        firstError ??= e;
      }
    }
    throw firstError ?? new DomainError('cert.untrusted', 'The certificate is not issued by the device CA', 'unauthorized');
  }

  /** A device certificate from the current issuing CA, its CRL and OCSP named in it. */
  async issueDeviceCertificate(deviceId: string, csr: { publicKeySpkiDer: Buffer }, validityDays: number): Promise<IssuedDeviceCertificate> {
    const generation = this.currentGeneration;
    const issued = await this.authority.issueDeviceCertificate({ csr, deviceId, validityDays, crlDistributionUrl: this.crlUrlOf(generation), ocspUrl: this.ocspUrl });
    return { ...issued, caGeneration: generation };
  }

  /**
   * A device certificate for the key of a CSR not checked yet: the check (`csrCheck`, as
   * CsrCheckService.check) and, when the issuing key is in memory, the certificate's writing and
   * signature on its worker threads in the same round trip; with the key in a token, the check
   * there and the signature here. The certificate is the one issueDeviceCertificate writes.
   */
  async checkAndIssueDeviceCertificate(
    csrCheck: CsrCheckService,
    csrInput: string | Buffer,
    options: CsrCheckOptions,
    deviceId: string,
    validityDays: number,
  ): Promise<{ csr: ParsedCsr; issued: IssuedDeviceCertificate }> {
    const generation = this.currentGeneration;
    const authority = this.authority;
    const key = authority.workerKey;
    if (!key) {
      const csr = await csrCheck.check(csrInput, options);
      return { csr, issued: await this.issueDeviceCertificate(deviceId, csr, validityDays) };
    }
    const issue = authority.deviceIssue({ deviceId, validityDays, crlDistributionUrl: this.crlUrlOf(generation), ocspUrl: this.ocspUrl });
    const { csr, der, pem } = await csrCheck.checkAndIssue(csrInput, options, issue, key);
    return { csr, issued: { certificatePem: pem, certificateDer: der, serialHex: issue.serial.hex, notBefore: issue.notBefore, notAfter: issue.notAfter, caGeneration: generation } };
  }

  /**
   * Rollover: a new issuing CA (new key, in the token when the CA keys are there) certified by
   * the root; it issues from now on, the earlier ones keep validating, publishing their CRLs and
   * answering OCSP for their certificates until these expire. The new CA is the fleet's: stored in
   * `ca_generations` under a lock (two rollovers at once on two instances make two generations,
   * one after the other, never two of one number), and the other instances take it from there
   * when told through the cluster bus, or at their next re-read.
   */
  rollover(): Promise<{ generation: number; certificatePem: string; notAfter: Date }> {
    return this.inTurn(() => this.doRollover());
  }

  /** The fleet's issuing CAs newer than this instance's, taken from the database (another instance rolled over). */
  refreshGenerations(): Promise<number> {
    return this.inTurn(async () => this.adopt(await this.ds.transaction((m) => this.storedGenerations(m, this.currentGeneration))));
  }

  /** Rollovers and re-reads one at a time (each reads the current generation and adds the next). */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn);
    this.turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async doRollover(): Promise<{ generation: number; certificatePem: string; notAfter: Date }> {
    const made = await this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [GENERATIONS_LOCK_KEY]);
      // Another instance's rollover first: the new one is the fleet's next, not this instance's.
      await this.adopt(await this.storedGenerations(m, this.currentGeneration));
      const generation = this.currentGeneration + 1;
      const commonName = `Fleetguard Device Issuing CA ${generation}`;
      let authority: CertificateAuthority;
      let certPem: string;
      let keyPem: string | null = null;
      if (this.token) {
        const label = `${this.config.caPkcs11!.keyLabel}-${generation}`;
        if (!this.token.hasKey(label)) this.token.generateKey(label, this.authority.keyAlgorithm);
        const signer = this.token.signer(label);
        certPem = await CertificateAuthority.createIntermediateWith(this.material!.rootCertPem, this.rootSigner(), signer.publicKeySpkiDer, { commonName, rootCrlUrl: this.rootCrlUrl });
        authority = await CertificateAuthority.fromSigner({ rootCertPem: this.material!.rootCertPem, intermediateCertPem: certPem }, signer);
      } else {
        const key = await generateCaKey(this.authority.keyAlgorithm);
        const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
        certPem = await CertificateAuthority.createIntermediateWith(this.material!.rootCertPem, this.rootSigner(), spki, { commonName, rootCrlUrl: this.rootCrlUrl });
        keyPem = encryptPrivateKey(key, this.passphraseValue!);
        authority = await CertificateAuthority.fromSigner({ rootCertPem: this.material!.rootCertPem, intermediateCertPem: certPem }, new KeyObjectSigner(key));
      }
      await m.query('INSERT INTO ca_generations (generation, intermediate_cert_pem, intermediate_key_pem, created_by) VALUES ($1, $2, $3, $4)', [
        generation,
        certPem,
        keyPem,
        this.cluster.instanceId,
      ]);
      return { generation, certPem, keyPem, authority, commonName };
    });
    this.mirrorGeneration(made.generation, made.certPem, made.keyPem);
    await this.adoptBuilt([{ generation: made.generation, authority: made.authority }]);
    this.cluster.publish('ca-rolled-over', { generation: made.generation });
    this.logger.log(`issuing CA rollover: generation ${made.generation} ("${made.commonName}") issues from now on; ${this.generationList.length - 1} earlier one(s) still validate`);
    return { generation: made.generation, certificatePem: made.certPem, notAfter: made.authority.intermediateNotAfter };
  }

  /** The fleet's issuing CAs after `after`, oldest first. */
  private async storedGenerations(m: EntityManager, after: number): Promise<StoredGeneration[]> {
    const rows: Array<{ generation: number; intermediate_cert_pem: string; intermediate_key_pem: string | null; created_at: Date; created_by: string }> = await m.query(
      'SELECT generation, intermediate_cert_pem, intermediate_key_pem, created_at, created_by FROM ca_generations WHERE generation > $1 ORDER BY generation',
      [after],
    );
    return rows.map((r) => ({ generation: Number(r.generation), certPem: r.intermediate_cert_pem, keyPem: r.intermediate_key_pem, createdAt: new Date(r.created_at).toISOString(), createdBy: r.created_by }));
  }

  /** Builds the stored generations this instance does not have yet, mirrors them into the certs directory and issues from the newest. */
  private async adopt(stored: StoredGeneration[]): Promise<number> {
    const fresh = stored.filter((g) => g.generation > this.currentGeneration);
    const built: IssuingCaGeneration[] = [];
    for (const g of fresh) {
      built.push({ generation: g.generation, authority: await this.authorityFrom(g) });
      this.mirrorGeneration(g.generation, g.certPem, g.keyPem);
    }
    await this.adoptBuilt(built);
    if (built.length) this.logger.log(`took issuing CA generation(s) ${built.map((g) => g.generation).join(', ')} from the database (made by ${fresh.map((g) => g.createdBy).join(', ')}): generation ${this.currentGeneration} issues from now on`);
    return built.length;
  }

  private async adoptBuilt(built: IssuingCaGeneration[]): Promise<void> {
    if (!built.length) return;
    this.generationList = [...this.generationList, ...built];
    this.authority = this.generationList[this.generationList.length - 1].authority;
    fs.writeFileSync(path.join(this.config.certsDir, 'ca-chain.pem'), this.chainPem);
    if (this.tls) {
      this.tls = await this.issueServerTls();
      this.changes.emit('tls', this.tls);
    }
  }

  /** A stored generation's CA: its key from the token (`<label>-<n>`) or decrypted with the fleet's passphrase. */
  private async authorityFrom(g: StoredGeneration): Promise<CertificateAuthority> {
    const certs = { rootCertPem: this.material!.rootCertPem, intermediateCertPem: g.certPem };
    let signer: CaSigner;
    if (this.token) {
      const label = `${this.config.caPkcs11!.keyLabel}-${g.generation}`;
      if (!this.token.hasKey(label)) throw new Error(`issuing CA generation ${g.generation} (made ${g.createdAt} by ${g.createdBy}): its key "${label}" is not in the PKCS#11 token; every instance must use the fleet's token`);
      signer = this.token.signer(label);
    } else {
      if (!g.keyPem) throw new Error(`issuing CA generation ${g.generation} (made ${g.createdAt} by ${g.createdBy}) keeps its key in a PKCS#11 token: configure FLEETGUARD_CA_PKCS11_* as on that instance`);
      try {
        signer = new KeyObjectSigner(decryptPrivateKey(g.keyPem, this.passphraseValue!));
      } catch (e) {
        if (e instanceof DomainError && e.code === 'ca.bad-passphrase') throw new Error(`cannot open issuing CA generation ${g.generation}'s key (made ${g.createdAt} by ${g.createdBy}): give every instance the fleet's FLEETGUARD_CA_PASSPHRASE`);
        throw e;
      }
    }
    return CertificateAuthority.fromSigner(certs, signer);
  }

  /** The certs directory's copy of a generation (the database holds the fleet's). */
  private mirrorGeneration(generation: number, certPem: string, keyPem: string | null): void {
    const dir = this.config.certsDir;
    if (keyPem) fs.writeFileSync(path.join(dir, generationFile(generation, 'key.enc')), keyPem, { mode: 0o600 });
    // The certificate last: a generation exists once its certificate file does.
    fs.writeFileSync(path.join(dir, generationFile(generation, 'crt')), certPem, { mode: 0o644 });
  }

  /**
   * At start: the fleet's later issuing CAs from the database. Generations found only in the certs
   * directory (made before the table existed) are stored as the fleet's; one whose certificate
   * differs from the fleet's generation of that number stops the service, naming both.
   */
  private async loadLaterGenerations(): Promise<void> {
    const dir = this.config.certsDir;
    const found = fs.readdirSync(dir).map((f) => GENERATION_FILE.exec(f)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1])).filter((n) => n >= 2).sort((a, b) => a - b);
    const stored = await this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [GENERATIONS_LOCK_KEY]);
      const fleet = new Map((await this.storedGenerations(m, 1)).map((g) => [g.generation, g]));
      for (const generation of found) {
        const certPem = fs.readFileSync(path.join(dir, generationFile(generation, 'crt')), 'utf8');
        const keyFile = path.join(dir, generationFile(generation, 'key.enc'));
        const keyPem = this.token || !fs.existsSync(keyFile) ? null : fs.readFileSync(keyFile, 'utf8');
        const theirs = fleet.get(generation);
        if (theirs) {
          if (!pemToDer(theirs.certPem).equals(pemToDer(certPem))) {
            throw new Error(
              `issuing CA generation ${generation} in ${dir} is not the fleet's (SHA-256 ${fingerprintOf(certPem)}; the fleet's, made ${theirs.createdAt} by ${theirs.createdBy}, is ${fingerprintOf(theirs.certPem)}): ` +
                `remove ${generationFile(generation, 'crt')} and its key from ${dir} to adopt the fleet's`,
            );
          }
          continue;
        }
        await m.query('INSERT INTO ca_generations (generation, intermediate_cert_pem, intermediate_key_pem, created_by) VALUES ($1, $2, $3, $4)', [generation, certPem, keyPem, this.cluster.instanceId]);
        fleet.set(generation, { generation, certPem, keyPem, createdAt: new Date().toISOString(), createdBy: this.cluster.instanceId });
        this.logger.log(`stored issuing CA generation ${generation} from ${dir} as the fleet's`);
      }
      return [...fleet.values()].sort((a, b) => a.generation - b.generation);
    });
    for (const g of stored) {
      this.generationList.push({ generation: g.generation, authority: await this.authorityFrom(g) });
      if (!found.includes(g.generation)) this.mirrorGeneration(g.generation, g.certPem, g.keyPem);
    }
    this.authority = this.generationList[this.generationList.length - 1].authority;
    if (stored.length) fs.writeFileSync(path.join(dir, 'ca-chain.pem'), this.chainPem);
    // Another instance's rollover: told through the cluster bus, and re-read on a timer in case that message was lost.
    // Only with other instances (FLEETGUARD_REDIS_URL): alone, this instance made every generation it has.
    if (!this.cluster.clustered) return;
    const reread = () => void this.refreshGenerations().catch((e: Error) => this.logger.warn(`issuing CA re-read failed: ${e.message}`));
    this.cluster.on<{ generation: number }>('ca-rolled-over', reread);
    this.recheck = setInterval(reread, GENERATIONS_RECHECK_MS);
    this.recheck.unref();
  }

  /**
   * Where devices and relying parties fetch the CRLs and OCSP: FLEETGUARD_PUBLIC_URL, else the
   * operator listener's address. Once known, the intermediate is certified again by the root if
   * its CRL distribution point does not name this service's `/pki/root-crl` yet, and the root
   * CRL and the TLS server certificate are made.
   */
  async setPublicBaseUrl(url: string): Promise<void> {
    this.publicBaseUrl ??= url;
    await this.publishRootCrlUrl();
  }

  private get baseUrl(): string {
    return this.config.publicUrl ?? this.publicBaseUrl ?? `http://localhost:${this.config.httpPort}`;
  }

  /** The current issuing CA's CRL. */
  get crlUrl(): string {
    return this.crlUrlOf(this.currentGeneration);
  }

  /** Each issuing CA publishes its own CRL: the first at `/pki/crl`, later ones at `/pki/crl/<generation>`. */
  crlUrlOf(generation: number): string {
    return generation === 1 ? `${this.baseUrl}/pki/crl` : `${this.baseUrl}/pki/crl/${generation}`;
  }

  get rootCrlUrl(): string {
    return `${this.baseUrl}/pki/root-crl`;
  }

  get ocspUrl(): string {
    return `${this.baseUrl}/pki/ocsp`;
  }

  /** The issuing CA as the OCSP responder signs with it. */
  get ocspIssuer(): OcspIssuer {
    return this.ocspIssuerOf(this.authority);
  }

  /** Every issuing CA as an OCSP responder (each answers for its own certificates), current first. */
  get ocspIssuers(): Array<{ generation: number; issuer: OcspIssuer }> {
    return [...this.generationList].reverse().map((g) => ({ generation: g.generation, issuer: this.ocspIssuerOf(g.authority) }));
  }

  private ocspIssuerOf(authority: CertificateAuthority): OcspIssuer {
    const id = authority.issuingIdentity;
    return { name: id.name, publicKey: id.publicKey, certificateDer: pemToDer(authority.intermediateCertPem), signer: authority.issuingSigner };
  }

  /** The root's CRL (DER), regenerated with the root key when a quarter of its validity is left. */
  async rootCrlDer(): Promise<Buffer> {
    if (!this.rootCrl || this.rootCrl.nextUpdate.getTime() - Date.now() < ROOT_CRL_VALIDITY_MS / 4) {
      const now = new Date();
      // The CRL number is the issuance time in seconds: increasing across restarts and instances without shared state.
      this.rootCrl = await CertificateAuthority.buildRootCrlWith(this.material!.rootCertPem, this.rootSigner(), {
        revoked: [],
        crlNumber: BigInt(Math.floor(now.getTime() / 1000)),
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + ROOT_CRL_VALIDITY_MS),
      });
    }
    return this.rootCrl.der;
  }

  private async publishRootCrlUrl(): Promise<void> {
    const url = this.rootCrlUrl;
    if (crlDistributionUrlOf(this.material!.intermediateCertPem) !== url) {
      // Under the CA lock: instances starting together re-certify once, and the others take that
      // certificate from the database (each making its own would give the fleet several chains).
      const { intermediateCertPem, made } = await this.ds.transaction(async (m) => {
        await m.query('SELECT pg_advisory_xact_lock($1)', [CA_LOCK_KEY]);
        const rows: Array<{ intermediate_cert_pem: string }> = await m.query('SELECT intermediate_cert_pem FROM ca_material WHERE id = 1');
        const stored = rows[0]?.intermediate_cert_pem;
        if (stored && crlDistributionUrlOf(stored) === url && !caDifference(caIdentity(this.material!), caIdentity({ rootCertPem: this.material!.rootCertPem, intermediateCertPem: stored }))) {
          return { intermediateCertPem: stored, made: false };
        }
        const updated = await CertificateAuthority.recertifyIntermediateWith(this.material!, this.rootSigner(), url);
        await m.query('UPDATE ca_material SET intermediate_cert_pem = $1 WHERE id = 1', [updated.intermediateCertPem]);
        return { intermediateCertPem: updated.intermediateCertPem, made: true };
      });
      const material = { ...this.material!, intermediateCertPem };
      const dir = this.config.certsDir;
      fs.writeFileSync(path.join(dir, FILES.intermediateCertPem), intermediateCertPem, { mode: 0o644 });
      fs.writeFileSync(path.join(dir, 'ca-chain.pem'), intermediateCertPem + material.rootCertPem);
      this.material = material;
      // Only the first issuing CA predates the root CRL; later ones (rollover) are made naming it.
      const first = this.generationList[0];
      const recertified = await CertificateAuthority.fromSigner(material, first.authority.issuingSigner);
      recertified.adoptKnownCertificates(first.authority);
      this.generationList = [{ generation: 1, authority: recertified }, ...this.generationList.slice(1)];
      if (this.generationList.length === 1) this.authority = recertified;
      fs.writeFileSync(path.join(dir, 'ca-chain.pem'), this.chainPem);
      this.logger.log(made ? `issuing CA certificate now names the root CRL at ${url}` : `took the fleet's issuing CA certificate naming the root CRL at ${url} from the database`);
    }
    this.rootCrl = undefined;
    await this.rootCrlDer();
    this.tls = await this.issueServerTls();
  }

  /**
   * After every module is up and before any listener opens (startService listens after init):
   * each issuing CA is told the device certificates it issued that are still valid, newest first,
   * as the database holds them, so the reconnect storm after a restart finds every device's
   * certificate already checked (measured: the check was a fifth of the broker's time per connect
   * after a restart, and every connection of that storm paid it).
   */
  async onApplicationBootstrap(): Promise<void> {
    const started = Date.now();
    const rows: Array<{ serial: string; device_id: string; not_before: Date; not_after: Date; ca_generation: number; pem: string }> = await this.ds.query(
      `SELECT serial, device_id, not_before, not_after, ca_generation, pem FROM certificates WHERE status = 'valid' AND not_after > now() ORDER BY not_after DESC LIMIT $1`,
      [KNOWN_CERTIFICATES],
    );
    let remembered = 0;
    for (const r of rows) {
      // A row whose PEM were not a certificate gives bytes no device presents: nothing is answered from it.
      const authority = this.authorityOf(Number(r.ca_generation));
      if (authority?.rememberIssued(pemToDer(r.pem), { deviceId: r.device_id, serialHex: r.serial, notBefore: new Date(r.not_before), notAfter: new Date(r.not_after) })) remembered++;
    }
    if (remembered) this.logger.log(`${remembered} device certificate(s) known to the issuing CA(s) in ${Date.now() - started} ms`);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.caPkcs11) return this.initFromToken(this.config.caPkcs11);
    const dir = this.config.certsDir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const passphrase = this.passphrase(dir);
    const paths = Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, path.join(dir, f)])) as Record<keyof CaMaterial, string>;
    const local = fs.existsSync(paths.intermediateKeyPem)
      ? (Object.fromEntries(Object.entries(paths).map(([k, p]) => [k, fs.readFileSync(p, 'utf8')])) as unknown as CaMaterial)
      : undefined;
    const fleet = await this.fleetCa(local, passphrase, dir);
    const material = fleet.material;
    if (!local || Object.keys(FILES).some((k) => local[k as keyof CaMaterial] !== material[k as keyof CaMaterial])) {
      for (const [k, p] of Object.entries(paths)) fs.writeFileSync(p, material[k as keyof CaMaterial], { mode: k.endsWith('KeyPem') ? 0o600 : 0o644 });
      fs.writeFileSync(path.join(dir, 'ca-chain.pem'), material.intermediateCertPem + material.rootCertPem);
    }
    if (fleet.source === 'created') this.logger.log(`created a device CA in ${dir} and the database (root and issuing CA, keys encrypted at rest)`);
    if (fleet.source === 'adopted') this.logger.log(`adopted the fleet's device CA from the database (stored ${fleet.storedAt} by ${fleet.storedBy}) into ${dir}`);
    try {
      this.authority = await CertificateAuthority.load(material, passphrase);
    } catch (e) {
      if (e instanceof DomainError && e.code === 'ca.bad-passphrase') {
        if (fleet.source === 'adopted') throw new Error(`cannot open the fleet's CA key (stored in the database ${fleet.storedAt} by ${fleet.storedBy}): this instance's passphrase is not the one it was made with; give every instance the fleet's FLEETGUARD_CA_PASSPHRASE`);
        throw new Error(`cannot open the CA key in ${dir}: wrong FLEETGUARD_CA_PASSPHRASE`);
      }
      throw e;
    }
    this.material = this.upgradeKeyProtection(dir, material, passphrase);
    if (this.material.rootKeyPem !== material.rootKeyPem || this.material.intermediateKeyPem !== material.intermediateKeyPem) {
      // The fleet's copy too: else the next start would write the old (weak) files back from it.
      await this.ds.query('UPDATE ca_material SET root_key_pem = $1, intermediate_key_pem = $2 WHERE id = 1', [this.material.rootKeyPem, this.material.intermediateKeyPem]);
    }
    this.passphraseValue = passphrase;
    this.generationList = [{ generation: 1, authority: this.authority }];
    await this.loadLaterGenerations();
    this.tls = await this.issueServerTls();
  }

  /**
   * The fleet's CA from the database, under an advisory lock: stored there from this instance's
   * files (an existing deployment) or made now if the database has none; refused if this
   * instance's files hold another CA.
   */
  private async fleetCa(local: CaMaterial | undefined, passphrase: string, dir: string): Promise<{ material: CaMaterial; source: 'database' | 'adopted' | 'stored' | 'created'; storedAt?: string; storedBy?: string }> {
    return this.ds.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [CA_LOCK_KEY]);
      const rows: Array<{ root_cert_pem: string; intermediate_cert_pem: string; root_key_pem: string; intermediate_key_pem: string; stored_at: Date; stored_by: string }> = await m.query(
        'SELECT root_cert_pem, intermediate_cert_pem, root_key_pem, intermediate_key_pem, stored_at, stored_by FROM ca_material WHERE id = 1',
      );
      if (rows.length) {
        const r = rows[0];
        const material: CaMaterial = { rootCertPem: r.root_cert_pem, intermediateCertPem: r.intermediate_cert_pem, rootKeyPem: r.root_key_pem, intermediateKeyPem: r.intermediate_key_pem };
        const storedAt = new Date(r.stored_at).toISOString();
        if (local) {
          const diff = caDifference(caIdentity(local), caIdentity(material));
          if (diff) {
            throw new Error(
              `the device CA in ${dir} is not the fleet's CA: ${diff} (stored ${storedAt} by ${r.stored_by}). ` +
                `Every instance on one database must use one CA: empty ${dir} to adopt the fleet's CA, or point DATABASE_URL at this CA's own database`,
            );
          }
        }
        return { material, source: local ? 'database' : 'adopted', storedAt, storedBy: r.stored_by };
      }
      const material = local ?? (await CertificateAuthority.create({ passphrase }));
      await m.query('INSERT INTO ca_material (id, root_cert_pem, intermediate_cert_pem, root_key_pem, intermediate_key_pem, stored_by) VALUES (1, $1, $2, $3, $4, $5)', [
        material.rootCertPem,
        material.intermediateCertPem,
        material.rootKeyPem,
        material.intermediateKeyPem,
        this.cluster.instanceId,
      ]);
      return { material, source: local ? 'stored' : 'created' };
    });
  }

  /**
   * Keys written by an earlier version (PBKDF2 at 2,048 iterations) are still read, then written
   * again under today's parameters (600,000 iterations), same passphrase, each file replaced by a
   * rename so a crash leaves the old file or the new one.
   */
  private upgradeKeyProtection(dir: string, material: CaMaterial, passphrase: string): CaMaterial {
    const out = { ...material };
    for (const k of ['rootKeyPem', 'intermediateKeyPem'] as const) {
      const again = reencryptIfWeak(material[k], passphrase);
      if (!again) continue;
      const file = path.join(dir, FILES[k]);
      fs.writeFileSync(`${file}.new`, again.pem, { mode: 0o600 });
      fs.renameSync(`${file}.new`, file);
      out[k] = again.pem;
      this.logger.warn(`${FILES[k]} was encrypted with ${again.was}: written again with PBKDF2-hmacWithSHA256, 600000 iterations`);
    }
    return out;
  }

  /** The root key: in the token, or decrypted from its file for the occasion. */
  private rootSigner(): CaSigner {
    if (this.token) return this.token.signer(`${this.config.caPkcs11!.keyLabel}${ROOT_KEY_SUFFIX}`);
    return new KeyObjectSigner(decryptPrivateKey(this.material!.rootKeyPem, this.passphraseValue!));
  }

  /**
   * CA keys in a PKCS#11 token: the issuing key (FLEETGUARD_CA_PKCS11_KEY_LABEL) must be there;
   * the root key (label + "-root") is made in the token with the CA on first start. Only the
   * certificates are written to the certs directory. Any failure stops the service naming it.
   */
  private async initFromToken(options: NonNullable<AppConfig['caPkcs11']>): Promise<void> {
    const dir = this.config.certsDir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const token = Pkcs11Token.open({ module: options.module, tokenLabel: options.tokenLabel, pin: options.pin });
    this.token = token;
    const issuing = token.signer(options.keyLabel);
    const rootLabel = `${options.keyLabel}${ROOT_KEY_SUFFIX}`;
    const rootFile = path.join(dir, FILES.rootCertPem);
    const interFile = path.join(dir, FILES.intermediateCertPem);
    let certs: Pick<CaMaterial, 'rootCertPem' | 'intermediateCertPem'>;
    if (fs.existsSync(interFile)) {
      certs = { rootCertPem: fs.readFileSync(rootFile, 'utf8'), intermediateCertPem: fs.readFileSync(interFile, 'utf8') };
    } else {
      if (!token.hasKey(rootLabel)) token.generateKey(rootLabel, issuing.keyAlgorithm);
      const root = token.signer(rootLabel);
      certs = await CertificateAuthority.createCertificatesWith(root, root.publicKeySpkiDer, issuing.publicKeySpkiDer);
      fs.writeFileSync(rootFile, certs.rootCertPem, { mode: 0o644 });
      fs.writeFileSync(interFile, certs.intermediateCertPem, { mode: 0o644 });
      fs.writeFileSync(path.join(dir, 'ca-chain.pem'), certs.intermediateCertPem + certs.rootCertPem);
      this.logger.log(`created the device CA certificates in ${dir} for the keys in PKCS#11 token "${options.tokenLabel}"`);
    }
    this.rootSigner(); // the root key must be there too (root CRL, re-certification)
    this.authority = await CertificateAuthority.fromSigner(certs, issuing);
    this.material = { ...certs, rootKeyPem: '', intermediateKeyPem: '' };
    this.generationList = [{ generation: 1, authority: this.authority }];
    await this.loadLaterGenerations();
    this.tls = await this.issueServerTls();
    this.logger.log(`CA keys in PKCS#11 token "${options.tokenLabel}" (issuing key "${options.keyLabel}")`);
  }

  onModuleDestroy(): void {
    clearInterval(this.recheck);
    this.token?.close();
  }

  /** FLEETGUARD_CA_PASSPHRASE, or in development a generated one kept beside the CA (0600). */
  private passphrase(dir: string): string {
    if (this.config.caPassphrase) return this.config.caPassphrase;
    if (this.config.env === 'production') throw new Error('FLEETGUARD_CA_PASSPHRASE is required in production');
    const file = path.join(dir, 'dev-ca-passphrase');
    if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600 });
    this.logger.warn(`no FLEETGUARD_CA_PASSPHRASE: using the development passphrase in ${file} (set one for production)`);
    return fs.readFileSync(file, 'utf8').trim();
  }

  /**
   * The device listener's and broker's TLS identity: the operator's certificate when one is
   * configured (FLEETGUARD_SERVER_CERT/KEY, checked at boot), else a fresh key and a certificate
   * of this CA naming FLEETGUARD_SERVER_NAMES (default localhost, fleetguard and loopback).
   */
  private async issueServerTls(): Promise<ServerTls> {
    const brought = this.config.serverCertificate;
    if (brought) {
      this.logger.log(`device listener and broker present the certificate in ${brought.certFile}`);
      return { key: brought.keyPem, cert: brought.certPem, ca: this.chainPem };
    }
    const { dnsNames, ipAddresses } = this.config.serverNames;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = await this.authority.issueServerCertificate({
      publicKeySpkiDer: publicKey.export({ type: 'spki', format: 'der' }),
      commonName: dnsNames[0] ?? ipAddresses[0] ?? 'fleetguard',
      dnsNames,
      ipAddresses,
      validityDays: 30,
    });
    this.logger.log(`device listener and broker certificate names: ${[...dnsNames, ...ipAddresses].join(', ')}`);
    return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: cert.certificatePem + this.authority.intermediateCertPem, ca: this.chainPem };
  }
}

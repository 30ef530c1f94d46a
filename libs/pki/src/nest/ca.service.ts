import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { AppConfig, DomainError } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform';
import { BuiltCrl, CaMaterial, CertificateAuthority } from '../core/certificate-authority';
import { decryptPrivateKey, reencryptIfWeak } from '../core/ca-key.codec';
import { Pkcs11Token } from '../core/pkcs11.signer';
import { CaSigner, KeyObjectSigner } from '../core/x509.signer';
import { crlDistributionUrlOf } from '../core/certificate-fields.reader';
import { OcspIssuer } from '../core/ocsp.responder';

const pemToDer = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

/** The root CRL lists revoked CA certificates; it changes rarely, so it is long-lived and refreshed at a quarter left. */
/** In a token, the root key's label is the issuing key's label with this suffix. */
const ROOT_KEY_SUFFIX = '-root';
const ROOT_CRL_VALIDITY_MS = 30 * 24 * 3600_000;

const FILES = {
  rootCertPem: 'root-ca.crt.pem',
  rootKeyPem: 'root-ca.key.enc.pem',
  intermediateCertPem: 'issuing-ca.crt.pem',
  intermediateKeyPem: 'issuing-ca.key.enc.pem',
} as const;

export interface ServerTls {
  key: string;
  cert: string;
  /** Trust anchors for client certificates (intermediate + root). */
  ca: string;
}

/**
 * The device CA of this service: created into the certs directory on first start (keys
 * encrypted with the configured passphrase), loaded on later starts. Also holds the TLS server
 * certificate the device listener and the MQTT broker present, issued by the same CA.
 */
@Injectable()
export class CaService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('PKI');
  private authority!: CertificateAuthority;
  private tls!: ServerTls;
  private publicBaseUrl?: string;
  private material?: CaMaterial;
  private passphraseValue?: string;
  private rootCrl?: BuiltCrl;
  private token?: Pkcs11Token;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get ca(): CertificateAuthority {
    return this.authority;
  }

  get serverTls(): ServerTls {
    return this.tls;
  }

  /** The chain devices trust: intermediate then root, PEM. */
  get chainPem(): string {
    return this.authority.chainPem;
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

  get crlUrl(): string {
    return `${this.baseUrl}/pki/crl`;
  }

  get rootCrlUrl(): string {
    return `${this.baseUrl}/pki/root-crl`;
  }

  get ocspUrl(): string {
    return `${this.baseUrl}/pki/ocsp`;
  }

  /** The issuing CA as the OCSP responder signs with it. */
  get ocspIssuer(): OcspIssuer {
    const id = this.authority.issuingIdentity;
    return { name: id.name, publicKey: id.publicKey, certificateDer: pemToDer(this.authority.intermediateCertPem), signer: this.authority.issuingSigner };
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
    const material = this.material!;
    const url = this.rootCrlUrl;
    if (crlDistributionUrlOf(material.intermediateCertPem) !== url) {
      const updated = await CertificateAuthority.recertifyIntermediateWith(material, this.rootSigner(), url);
      const dir = this.config.certsDir;
      fs.writeFileSync(path.join(dir, FILES.intermediateCertPem), updated.intermediateCertPem, { mode: 0o644 });
      fs.writeFileSync(path.join(dir, 'ca-chain.pem'), updated.intermediateCertPem + updated.rootCertPem);
      this.material = { ...material, ...updated };
      this.authority = await CertificateAuthority.fromSigner(updated, this.authority.issuingSigner);
      this.logger.log(`issuing CA certificate now names the root CRL at ${url}`);
    }
    this.rootCrl = undefined;
    await this.rootCrlDer();
    this.tls = await this.issueServerTls();
  }

  async onModuleInit(): Promise<void> {
    if (this.config.caPkcs11) return this.initFromToken(this.config.caPkcs11);
    const dir = this.config.certsDir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const passphrase = this.passphrase(dir);
    const paths = Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, path.join(dir, f)])) as Record<keyof CaMaterial, string>;
    let material: CaMaterial;
    if (fs.existsSync(paths.intermediateKeyPem)) {
      material = Object.fromEntries(Object.entries(paths).map(([k, p]) => [k, fs.readFileSync(p, 'utf8')])) as unknown as CaMaterial;
    } else {
      material = await CertificateAuthority.create({ passphrase });
      for (const [k, p] of Object.entries(paths)) fs.writeFileSync(p, material[k as keyof CaMaterial], { mode: k.endsWith('KeyPem') ? 0o600 : 0o644 });
      fs.writeFileSync(path.join(dir, 'ca-chain.pem'), material.intermediateCertPem + material.rootCertPem);
      this.logger.log(`created a development device CA in ${dir} (root and issuing CA, keys encrypted at rest)`);
    }
    try {
      this.authority = await CertificateAuthority.load(material, passphrase);
    } catch (e) {
      if (e instanceof DomainError && e.code === 'ca.bad-passphrase') {
        throw new Error(`cannot open the CA key in ${dir}: wrong FLEETGUARD_CA_PASSPHRASE`);
      }
      throw e;
    }
    this.material = this.upgradeKeyProtection(dir, material, passphrase);
    this.passphraseValue = passphrase;
    this.tls = await this.issueServerTls();
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
    this.tls = await this.issueServerTls();
    this.logger.log(`CA keys in PKCS#11 token "${options.tokenLabel}" (issuing key "${options.keyLabel}")`);
  }

  onModuleDestroy(): void {
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
      return { key: brought.keyPem, cert: brought.certPem, ca: this.authority.chainPem };
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
    return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: cert.certificatePem + this.authority.intermediateCertPem, ca: this.authority.chainPem };
  }
}

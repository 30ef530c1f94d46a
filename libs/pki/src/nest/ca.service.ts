import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { AppConfig, DomainError } from '@fleetguard/common';
import { APP_CONFIG } from '@fleetguard/platform';
import { CaMaterial, CertificateAuthority } from '../core/certificate-authority';

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
export class CaService implements OnModuleInit {
  private readonly logger = new Logger('PKI');
  private authority!: CertificateAuthority;
  private tls!: ServerTls;
  private publicBaseUrl?: string;

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

  /** Where devices fetch the CRL; set from the operator listener's address unless FLEETGUARD_PUBLIC_URL is given. */
  setPublicBaseUrl(url: string): void {
    this.publicBaseUrl ??= url;
  }

  get crlUrl(): string {
    return `${this.config.publicUrl ?? this.publicBaseUrl ?? `http://localhost:${this.config.httpPort}`}/pki/crl`;
  }

  async onModuleInit(): Promise<void> {
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
    this.tls = await this.issueServerTls();
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

  /** A fresh TLS server key and certificate (localhost and loopback) for the device listener and the broker. */
  private async issueServerTls(): Promise<ServerTls> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = await this.authority.issueServerCertificate({
      publicKeySpkiDer: publicKey.export({ type: 'spki', format: 'der' }),
      commonName: 'fleetguard',
      dnsNames: ['localhost', 'fleetguard'],
      ipAddresses: ['127.0.0.1', '::1'],
      validityDays: 30,
    });
    return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: cert.certificatePem + this.authority.intermediateCertPem, ca: this.authority.chainPem };
  }
}

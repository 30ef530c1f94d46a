import { promises as fs } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { Command } from 'commander';
import { resolvePath } from '../cli-io';
import { usageError } from '../exit-codes';
import { renderRecord } from '../output';
import { CommandContext, withJsonOption } from './command-context';

/** The attestation lib (its CBOR, COSE, PSA and CoRIM readers), loaded only by these commands. */
const loadAttestation = () => import('@fleetguard/attestation');

const BASE64URL = /^[A-Za-z0-9_-]+=*$/;

/** A token given as a file (raw CBOR, or its base64url text) or as the base64url text itself. */
async function readToken(ctx: CommandContext, arg: string): Promise<Buffer> {
  let bytes: Buffer | null = null;
  try {
    bytes = await fs.readFile(resolvePath(ctx.io, arg));
  } catch {
    if (!BASE64URL.test(arg)) throw usageError(`${arg} is neither a readable file nor a base64url token`);
    return Buffer.from(arg, 'base64url');
  }
  const text = bytes.toString('latin1').trim();
  return BASE64URL.test(text) ? Buffer.from(text, 'base64url') : bytes;
}

/** `fleetctl psa inspect TOKEN` and `fleetctl corim inspect FILE`: decode and print, offline. */
export function registerPsaCommands(program: Command, ctx: CommandContext): void {
  const psa = program.command('psa').description('PSA attestation tokens (RFC 9783), offline');
  withJsonOption(
    psa
      .command('inspect')
      .description('decode a PSA attestation token and print its claims; with --iak, check its signature too')
      .argument('<token>', 'a token file (CBOR or base64url) or the base64url text')
      .option('--iak <pub.pem>', 'the Initial Attestation Key (PEM public key) to verify the COSE_Sign1 signature with'),
  ).action(async (arg: string, opts: { iak?: string }, cmd: Command) => {
    const { parsePsaToken, psaClaimsView, verifyPsaToken } = await loadAttestation();
    const token = parsePsaToken(await readToken(ctx, arg));
    let signature: 'not checked' | 'verified' = 'not checked';
    if (opts.iak) {
      let pem: string;
      try {
        pem = await fs.readFile(resolvePath(ctx.io, opts.iak), 'utf8');
      } catch {
        throw usageError(`cannot read --iak ${opts.iak}`);
      }
      verifyPsaToken(token, createPublicKey(pem));
      signature = 'verified';
    }
    const view = { alg: token.cose.alg, signature, claims: psaClaimsView(token.claims) };
    ctx.output(cmd).result(view, () => {
      const { softwareComponents, ...rest } = view.claims;
      const lines = [renderRecord({ alg: view.alg, signature, ...rest, lifecycle: `${rest.lifecycle.state} (${rest.lifecycle.value})` }), '', 'software components:'];
      for (const c of softwareComponents) lines.push(`  ${c.measurementType ?? '(no type)'} ${c.version ?? '(no version)'}  value ${c.measurementValue}  signer ${c.signerId}`);
      return lines.join('\n');
    });
  });

  const corim = program.command('corim').description('CoRIM reference values (PSA profile), offline');
  withJsonOption(
    corim
      .command('inspect')
      .description('decode a CoRIM (unsigned tag 501, or COSE_Sign1-signed) and print its PSA reference values and attest keys')
      .argument('<file>', 'the CoRIM file (CBOR)')
      .option('--signed', 'the file is COSE_Sign1-signed (application/rim+cose); its signature is checked only with --key')
      .option('--key <pub.pem>', 'the manufacturer key that signed it'),
  ).action(async (file: string, opts: { signed?: boolean; key?: string }, cmd: Command) => {
    const { corimView, parseCorim, parseCoseSign1 } = await loadAttestation();
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(resolvePath(ctx.io, file));
    } catch {
      throw usageError(`cannot read ${file}`);
    }
    const signed = opts.signed ?? bytes[0] === 0xd2;
    let keys = opts.key ? [createPublicKey(await fs.readFile(resolvePath(ctx.io, opts.key), 'utf8'))] : [];
    if (signed && !opts.key) {
      // Decode without a key: the inspection says so instead of claiming a verified signature.
      keys = [];
      const cose = parseCoseSign1(bytes, 'signed CoRIM');
      const inner = corimView(parseCorim(cose.payload, { signed: false }));
      return print({ ...inner, signed: true, signature: 'not checked' });
    }
    const view = corimView(parseCorim(bytes, { signed, keys }));
    return print({ ...view, signature: signed ? 'verified' : 'unsigned' });

    function print(view: ReturnType<typeof corimView> & { signature: string }) {
      ctx.output(cmd).result(view, () => {
        const lines = [renderRecord({ id: view.id, profile: view.profile, signature: view.signature, sha256: view.sha256 }), '', `reference values (${view.referenceValues.length}):`];
        for (const r of view.referenceValues) lines.push(`  impl ${r.implementationId}  ${r.measurementType ?? '(no type)'} ${r.version ?? ''}  ${r.digests.map((d) => `${d.alg}:${d.value}`).join(' ')}  signer ${r.signerIds.join(',') || '-'}`);
        lines.push('', `attest keys (${view.attestKeys.length}):`);
        for (const k of view.attestKeys) lines.push(`  impl ${k.implementationId}  instance ${k.instanceId}`);
        return lines.join('\n');
      });
    }
  });
}

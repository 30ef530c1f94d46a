import { Command, InvalidArgumentError, Option } from 'commander';
import { FRS } from '@fleetguard/common';
import { resolvePath } from '../cli-io';
import { readTextFile } from '../local-files';
import { columnsFor, itemsOf, renderRecord, renderTable } from '../output';
import { CommandContext, nonNegativeInt, withApiOptions } from './command-context';

const enc = encodeURIComponent;

interface CreateProductOptions {
  name: string;
  type: string;
  declare: string[];
  target: Record<string, number>;
  minCounter?: number;
}

/** `fleetctl product ...` and `fleetctl signing-key ...` (manufacturer). */
export function registerProductCommands(program: Command, ctx: CommandContext): void {
  const product = program.command('product').description('products: component type, declared 62443-4-2 requirements, target SL');

  withApiOptions(
    product
      .command('create')
      .description('define a product')
      .requiredOption('--name <name>', 'product name')
      .addOption(new Option('--type <type>', 'IEC 62443-4-2 component type').choices(['EDR', 'HDR', 'NDR', 'SAR']).makeOptionMandatory())
      .option('--declare <ids>', 'declared requirements, comma-separated: "CR 1.1,EDR 3.14"', parseDeclared, [] as string[])
      .requiredOption('--target <levels>', 'target SL per FR: FR1=2,FR2=2,... (FRs not given are 0)', parseTarget)
      .option('--min-counter <n>', 'lowest firmware security counter accepted (anti-rollback)', nonNegativeInt('--min-counter', 2 ** 31 - 1)),
  ).action(async (opts: CreateProductOptions, cmd: Command) => {
    const client = await ctx.client(cmd);
    const created = await client.post<Record<string, unknown>>('/products', {
      name: opts.name,
      componentType: opts.type,
      declaredRequirements: opts.declare,
      targetLevels: opts.target,
      ...(opts.minCounter !== undefined ? { minSecurityCounter: opts.minCounter } : {}),
    });
    ctx.output(cmd).result(created, () => renderRecord(created));
  });

  withApiOptions(product.command('list').description('list the products this key can see')).action(async (_opts: unknown, cmd: Command) => {
    const client = await ctx.client(cmd);
    const products = await client.get<unknown>('/products');
    const rows = itemsOf(products);
    ctx.output(cmd).result(products, () =>
      renderTable(columnsFor(rows, ['id', 'name', 'componentType', 'minSecurityCounter', 'targetLevels', 'createdAt']), rows),
    );
  });

  withApiOptions(product.command('show').description('one product').argument('<id>')).action(async (id: string, _opts: unknown, cmd: Command) => {
    const client = await ctx.client(cmd);
    const found = await client.get<Record<string, unknown>>(`/products/${enc(id)}`);
    ctx.output(cmd).result(found, () => renderRecord(found));
  });

  const signingKey = program.command('signing-key').description("a product's firmware signing keys (public keys)");

  withApiOptions(
    signingKey
      .command('add')
      .description('register a public key that signs the product\'s firmware; prints its key id')
      .argument('<productId>')
      .argument('<pubkey.pem>', 'public key (PEM); a private key is refused and never sent'),
  ).action(async (productId: string, file: string, _opts: unknown, cmd: Command) => {
    const pem = await readTextFile(resolvePath(ctx.io, file), 'public key', 64 * 1024);
    // Checked here first: a private key given by mistake is refused before it leaves the machine.
    const localKeyId = (await import('../firmware')).publicKeyFromPem(file, pem).keyId;
    const client = await ctx.client(cmd);
    const added = await client.post<{ keyId?: string }>(`/products/${enc(productId)}/signing-keys`, { publicKey: pem });
    const out = ctx.output(cmd);
    if (added?.keyId && added.keyId !== localKeyId) out.warn(`the service reports key id ${added.keyId}, fleetctl computed ${localKeyId}`);
    out.result(added, () => `added signing key ${added?.keyId ?? localKeyId} to product ${productId}`);
  });

  withApiOptions(signingKey.command('list').description("a product's signing keys and their status").argument('<productId>')).action(
    async (productId: string, _opts: unknown, cmd: Command) => {
      const client = await ctx.client(cmd);
      const keys = await client.get<unknown>(`/products/${enc(productId)}/signing-keys`);
      const rows = itemsOf(keys);
      ctx.output(cmd).result(keys, () =>
        renderTable(
          columnsFor(rows, ['keyId', 'algorithm', 'status', 'createdAt', 'revokedAt']).map((c) =>
            c.key === 'keyId' ? { ...c, format: (v: unknown) => String(v) } : c,
          ),
          rows,
        ),
      );
    },
  );

  withApiOptions(
    signingKey
      .command('revoke')
      .description('revoke a signing key: releases signed only by it become untrusted')
      .argument('<productId>')
      .argument('<keyId>'),
  ).action(async (productId: string, keyId: string, _opts: unknown, cmd: Command) => {
    const client = await ctx.client(cmd);
    const result = await client.delete<unknown>(`/products/${enc(productId)}/signing-keys/${enc(keyId)}`);
    ctx.output(cmd).result(result ?? { productId, keyId, revoked: true }, () => `revoked signing key ${keyId} of product ${productId}`);
  });
}

export function parseDeclared(raw: string): string[] {
  return [...new Set(raw.split(',').map((s) => s.trim().replace(/\s+/g, ' ')).filter(Boolean))];
}

/** `FR1=2,FR2=2`: every FR 0..4, each at most once; FRs not named are 0. */
export function parseTarget(raw: string): Record<string, number> {
  const levels: Record<string, number> = Object.fromEntries(FRS.map((fr) => [fr, 0]));
  const seen = new Set<string>();
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(FR[1-7])\s*=\s*([0-4])$/i.exec(part);
    if (!m) throw new InvalidArgumentError(`"${part}" is not FRn=level (FR1..FR7, level 0..4), e.g. FR1=2,FR2=2`);
    const fr = m[1].toUpperCase();
    if (seen.has(fr)) throw new InvalidArgumentError(`${fr} is given twice`);
    seen.add(fr);
    levels[fr] = Number(m[2]);
  }
  if (seen.size === 0) throw new InvalidArgumentError('give at least one FRn=level, e.g. FR1=2,FR2=2');
  return levels;
}

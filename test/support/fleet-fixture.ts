import * as fs from 'node:fs';
import * as path from 'node:path';
import { sampleBootEvents } from '@fleetguard/device-kit';
import { Api, createProduct, createTenant, grantEnrollment, mintTokens } from './service';

/** firmware-samples/ of the repository, from test/support or from dist/test/support. */
function samplesDir(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'firmware-samples', 'samples.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`firmware-samples/ not found above ${__dirname}`);
    dir = up;
  }
  return path.join(dir, 'firmware-samples');
}

const SAMPLES = samplesDir();
const samples = JSON.parse(fs.readFileSync(path.join(SAMPLES, 'samples.json'), 'utf8'));

/**
 * A manufacturer with a product whose firmware release (the signed MCUboot sample) and golden boot
 * measurements are on record, through the real API; what simulated devices of that product run.
 */
export async function productWithRelease(api: Api, opts: { operator?: { orgId: string; key: string }; minSecurityCounter?: number; adminKey?: string } = {}) {
  const manufacturer = await createTenant(api, 'manufacturer', undefined, opts.adminKey);
  const product = await createProduct(api, manufacturer.key, {
    componentType: 'EDR',
    declaredRequirements: ['CR 1.1', 'CR 3.4', 'EDR 3.14'],
    minSecurityCounter: opts.minSecurityCounter ?? 5,
  });
  const pub = fs.readFileSync(path.join(SAMPLES, samples.keys['ec-p256'].public), 'utf8');
  const key = await api.post(`/api/v1/products/${product.id}/signing-keys`, { publicKey: pub }, manufacturer.key);
  if (key.status !== 201) throw new Error(`signing key: ${JSON.stringify(key.body)}`);
  const upload = await api.request('POST', `/api/v1/products/${product.id}/firmware`, {
    key: manufacturer.key,
    raw: fs.readFileSync(path.join(SAMPLES, 'good-ecdsa-p256.mcuboot.bin')),
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (upload.status !== 201) throw new Error(`firmware: ${JSON.stringify(upload.body)}`);
  const events = sampleBootEvents();
  const refs = await api.request('PUT', `/api/v1/products/${product.id}/firmware/${encodeURIComponent(upload.body.version)}/reference-values`, { key: manufacturer.key, body: { events } });
  if (refs.status !== 200) throw new Error(`reference values: ${JSON.stringify(refs.body)}`);
  const profile = { fw: { productId: product.id, version: upload.body.version as string, digest: upload.body.digest as string, securityCounter: upload.body.securityCounter as number }, events };
  // The operator consents (an enrollment grant for this product); the tokens name the grant.
  const grantId = opts.operator ? await grantEnrollment(api, opts.operator.key, manufacturer.orgId, { productId: product.id }) : undefined;
  const tokens = (count: number) => mintTokens(api, manufacturer.key, product.id, count, grantId ? { grantId } : {});
  return { manufacturer, product, profile, tokens };
}

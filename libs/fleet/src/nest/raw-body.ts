import type { Request } from 'express';
import { DomainError } from '@fleetguard/common';

/** Reads a small non-JSON body (EST: base64 PKCS#10) with a size bound. */
export async function readSmallBody(req: Request, limit = 64 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new DomainError('body.too-large', `the request body is limited to ${limit} bytes`, 'too-large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

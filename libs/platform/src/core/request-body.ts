import type { Request } from 'express';
import { DomainError } from '@fleetguard/common';

/** Reads a non-JSON request body (raw bytes: EST, TCG logs, CoRIMs, SBOMs) up to `limit` bytes; larger is a 413. */
export async function readBoundedBody(req: Request, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new DomainError('body.too-large', `the request body is limited to ${limit} bytes`, 'too-large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

import type { Request } from 'express';
import { readBoundedBody } from '@fleetguard/platform';

/** Reads a small non-JSON body (EST: base64 PKCS#10) with a size bound. */
export function readSmallBody(req: Request, limit = 64 * 1024): Promise<Buffer> {
  return readBoundedBody(req, limit);
}

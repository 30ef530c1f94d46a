import type { Request } from 'express';
import { DomainError, invalid } from '@fleetguard/common';

/** Reads the raw body with a bound, or (already parsed as application/json by the global parser) its JSON again. */
export async function readBody(req: Request, limit: number): Promise<Buffer> {
  if (parsedJson(req)) return Buffer.from(JSON.stringify(req.body));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new DomainError('body.too-large', `the request body is limited to ${limit} bytes`, 'too-large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON document body (application/json, or a +json type such as application/csaf+json), bounded. */
export async function readJsonDocument(req: Request, limit: number): Promise<unknown> {
  if (parsedJson(req)) return req.body;
  const bytes = await readBody(req, limit);
  if (!bytes.length) throw invalid('body.empty', 'send the document as the request body');
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalid('body.bad-json', `the document is not valid JSON: ${(e as Error).message}`);
  }
}

/** The global express.json() parser took application/json bodies already (up to FLEETGUARD_HTTP_MAX_BODY). */
function parsedJson(req: Request): boolean {
  return req.body !== undefined && !!req.is('application/json');
}

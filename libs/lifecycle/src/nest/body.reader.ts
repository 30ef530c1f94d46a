import type { Request } from 'express';
import { invalid } from '@fleetguard/common';
import { readBoundedBody } from '@fleetguard/platform';

/** Reads the raw body with a bound, or (already parsed as application/json by the global parser) its JSON again. */
export async function readBody(req: Request, limit: number): Promise<Buffer> {
  if (parsedJson(req)) return Buffer.from(JSON.stringify(req.body));
  return readBoundedBody(req, limit);
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

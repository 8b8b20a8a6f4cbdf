import { parseJsonBody, readBody, refusePoisonedBody } from './body.js';

/** A Node request as Express and NestJS-on-Express hand it over: maybe parsed already, else unread. */
export interface NodeRequestLike extends AsyncIterable<Uint8Array> {
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/**
 * The JSON body of a Node request: what a body parser (`express.json()`) already made of it, or else read
 * and parsed here, with the core's limit and refusals (413, 415, 400). Express 5 leaves `req.body`
 * undefined when no parser took the request, so a body of another type is read here and refused with 415
 * instead of reaching the command as `undefined`. A parsed body with a `__proto__` or
 * `constructor.prototype` key is refused (400), as Fastify refuses it.
 *
 * @example
 * const input = await nodeJsonBody(req, 1024 * 1024);
 */
export async function nodeJsonBody(req: NodeRequestLike, limit: number): Promise<unknown> {
  if (req.body !== undefined) return refusePoisonedBody(req.body);
  const type = req.headers['content-type'];
  return parseJsonBody(typeof type === 'string' ? type : undefined, await readBody(req, limit));
}

import { TallyError } from '../../errors.js';

/** The body limit of the adapters that read the body themselves: Fastify's default, 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const MALFORMED = 'the request body is not valid JSON, or it has a __proto__ or constructor.prototype key';

/** A Content-Type whose body is JSON: `application/json` or any `application/*+json`. */
export function isJsonType(contentType: string | null | undefined): boolean {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
}

/**
 * Reads a request body of at most `limit` bytes: over it → BODY_TOO_LARGE (413) as soon as the limit is
 * passed, without reading the rest. A stream that fails (the client went away) rejects with its error.
 *
 * @example
 * const bytes = await readBody(req, 1024 * 1024); // req: a Node IncomingMessage
 */
export async function readBody(
  chunks: AsyncIterable<Uint8Array>,
  limit = DEFAULT_BODY_LIMIT,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge();
    parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(parts, size);
}

/**
 * The body as the Fastify plugin's parser would read it: no body → undefined; a JSON Content-Type → the
 * parsed value (empty, not JSON, or with a `__proto__` / `constructor.prototype` key → MALFORMED_BODY, 400);
 * any other Content-Type → UNSUPPORTED_MEDIA_TYPE (415).
 *
 * @example
 * parseJsonBody('application/json', Buffer.from('{"qty":1}')); // { qty: 1 }
 */
export function parseJsonBody(contentType: string | null | undefined, bytes: Uint8Array): unknown {
  if (!isJsonType(contentType)) {
    if (bytes.byteLength === 0 && !contentType) return undefined;
    throw new TallyError(
      'UNSUPPORTED_MEDIA_TYPE',
      'the request body has a Content-Type this route does not read',
    );
  }
  if (bytes.byteLength === 0) {
    throw new TallyError('MALFORMED_BODY', 'the request body is empty but its Content-Type says JSON');
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes), refusePoison);
  } catch (cause) {
    throw new TallyError('MALFORMED_BODY', MALFORMED, { cause });
  }
}

/** As Fastify's secure-json-parse: a key that would reach an object's prototype refuses the body. */
function refusePoison(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError('__proto__ key');
  if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) {
    throw new SyntaxError('constructor.prototype key');
  }
  return value;
}

function tooLarge(): TallyError {
  return new TallyError('BODY_TOO_LARGE', 'the request body is larger than this server accepts');
}

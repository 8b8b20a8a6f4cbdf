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
  try {
    for await (const chunk of chunks) {
      size += chunk.byteLength;
      if (size > limit) throw tooLarge();
      parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
  } catch (err) {
    throw cutShort(err);
  }
  return Buffer.concat(parts, size);
}

/**
 * The same for a fetch-API body (Hono on any runtime): a `ReadableStream`, read with its reader so that it
 * works where streams are not async-iterable.
 *
 * @example
 * const bytes = await readWebBody(request.body, 1024 * 1024);
 */
export async function readWebBody(
  stream: ReadableStream<Uint8Array> | null,
  limit = DEFAULT_BODY_LIMIT,
): Promise<Uint8Array> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        void reader.cancel().catch(() => {});
        throw tooLarge();
      }
      parts.push(value);
    }
  } catch (err) {
    throw cutShort(err);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A body the client stopped sending (it went away): 400 as body-parser's `request.aborted`, never a 500. */
function cutShort(err: unknown): TallyError {
  if (err instanceof TallyError) return err;
  return new TallyError('MALFORMED_BODY', 'the request body ended before its end (the client went away?)', {
    cause: err,
  });
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

/**
 * A body another parser made (body-parser keeps a `__proto__` key as an own property): refused as the
 * Fastify plugin's parser refuses it, so every adapter answers such a body alike (400 MALFORMED_BODY).
 * Iterative: a deeply nested body cannot exhaust the stack.
 *
 * @example
 * refusePoisonedBody(JSON.parse('{"__proto__":{"admin":true}}')); // throws MALFORMED_BODY
 */
export function refusePoisonedBody<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    for (const key of Object.keys(v)) {
      const inner = (v as Record<string, unknown>)[key];
      try {
        refusePoison(key, inner);
      } catch (cause) {
        throw new TallyError('MALFORMED_BODY', MALFORMED, { cause });
      }
      stack.push(inner);
    }
  }
  return value;
}

function tooLarge(): TallyError {
  return new TallyError('BODY_TOO_LARGE', 'the request body is larger than this server accepts');
}

// The Idempotency-Key header's edge cases, each answered on purpose (docs/http.md): empty, too long,
// non-ASCII bytes, several values, case and whitespace. Raw requests go over a real socket, so what Node
// itself does with the bytes (Latin-1 decoding, joining repeated headers, trimming) is part of the test.
import { connect } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKeyOf, idempotent, tallyFastify } from '../../src/http/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';

let t: TestDatabase;
let tally: Tally;
let app: FastifyInstance;
let port = 0;
let sends = 0;

beforeAll(async () => {
  t = await freshPGlite();
  tally = await createTally({ db: t.db });
  await tally.migrate();
  const order = tally.command<{ item: string }>('order', {
    fingerprint: (i) => ({ item: i.item }),
    steps: [
      {
        name: 'ship',
        call: {
          request: (ctx) => ({ item: ctx.input.item }),
          send: async () => {
            sends++;
            return { outcome: 'success' as const, value: { n: sends } };
          },
        },
      },
    ],
  });
  app = Fastify();
  await app.register(tallyFastify);
  app.post('/orders', idempotent(order, { principal: () => 'alice' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});
afterAll(async () => {
  await app.close();
  await t.close();
});

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends one request exactly as written: each entry of `keyLines` is one `Idempotency-Key:` line, its
 * value given as bytes (so UTF-8, tabs and spaces reach Node untouched).
 */
function raw(keyLines: Buffer[], body = '{"item":"mug"}'): Promise<Raw> {
  const head = Buffer.from(
    `POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`,
  );
  const lines = keyLines.map((v) => Buffer.concat([Buffer.from('Idempotency-Key:'), v, Buffer.from('\r\n')]));
  const request = Buffer.concat([head, ...lines, Buffer.from(`\r\n${body}`)]);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of headerLines) {
        const at = l.indexOf(':');
        headers[l.slice(0, at).toLowerCase()] = l.slice(at + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

const b = (text: string) => Buffer.from(text, 'utf8');

async function recorded() {
  return {
    commands: await count(t.db, 'SELECT 1 FROM tally.commands'),
    events: await count(t.db, 'SELECT 1 FROM tally.command_events'),
    calls: await count(t.db, 'SELECT 1 FROM tally.command_calls'),
    sends,
  };
}

/** A refusal: 400 problem+json, INVALID_IDEMPOTENCY_KEY with this reason, and nothing recorded or sent. */
async function expectRefused(keyLines: Buffer[], reason: string) {
  const before = await recorded();
  const res = await raw(keyLines);
  const label = keyLines.map((l) => l.toString('latin1')).join(' | ');
  expect([label, res.status], res.body).toEqual([label, 400]);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect([label, JSON.parse(res.body)]).toMatchObject([
    label,
    { status: 400, code: 'INVALID_IDEMPOTENCY_KEY', details: { reason } },
  ]);
  expect(await recorded()).toEqual(before);
}

describe('Idempotency-Key edge cases over a real socket', () => {
  it('empty: no value, only whitespace, or an empty string → 400 empty', async () => {
    for (const v of ['', '   ', '\t', '""', ' "" ']) await expectRefused([b(v)], 'empty');
  });

  it("over 255 characters (the engine's limit, quoted or bare, escapes unfolded) → 400 too_long; 255 is served", async () => {
    const k256 = 'k'.repeat(256);
    await expectRefused([b(`"${k256}"`)], 'too_long');
    await expectRefused([b(k256)], 'too_long');
    await expectRefused([b(`"${'x'.repeat(5000)}"`)], 'too_long');
    const k255 = 'k'.repeat(255);
    const ok = await raw([b(`"${k255}"`)]);
    expect(ok.status).toBe(200);
    const again = await raw([b(k255)]); // the bare form of the same key is the same key
    expect([again.status, again.headers['idempotent-replayed']]).toEqual([200, 'true']);
  });

  it('non-ASCII: raw UTF-8 bytes (Node reads them as Latin-1) → 400 non_ascii, quoted or bare', async () => {
    await expectRefused([b('"café-1"')], 'non_ascii');
    await expectRefused([b('café-1')], 'non_ascii');
    await expectRefused([b('"key-\u{1F511}"')], 'non_ascii');
    await expectRefused([Buffer.from([0x22, 0x61, 0xff, 0x22])], 'non_ascii'); // "a\xff": not even UTF-8
  });

  it('several values: two header lines, or one comma list → 400 several', async () => {
    await expectRefused([b('"a"'), b('"b"')], 'several');
    await expectRefused([b('"a"'), b('"a"')], 'several'); // the same key twice is still two values
    await expectRefused([b('"a", "b"')], 'several');
    await expectRefused([b('a,b')], 'several');
    await expectRefused([b('a'), b('b')], 'several');
  });

  it('malformed: parameters, a bad escape, an unclosed quote, a space inside a bare token → 400 malformed', async () => {
    for (const v of ['"abc";v=1', '"a\\x"', '"abc', 'a b', '"a" "b"', 'a;b']) {
      await expectRefused([b(v)], 'malformed');
    }
  });

  it('case matters: "ABC" and "abc" are two keys, two commands, two sends', async () => {
    const before = await recorded();
    const upper = await raw([b('"Case-ABC"')]);
    const lower = await raw([b('"case-abc"')]);
    expect([upper.status, lower.status]).toEqual([200, 200]);
    expect([upper.headers['idempotent-replayed'], lower.headers['idempotent-replayed']]).toEqual([
      undefined,
      undefined,
    ]);
    expect(JSON.parse(upper.body)).not.toEqual(JSON.parse(lower.body));
    expect((await recorded()).commands - before.commands).toBe(2);
    expect(sends - before.sends).toBe(2);
  });

  it('whitespace around the value is not part of the key; inside the quotes it is (and is refused)', async () => {
    const first = await raw([b('"spaced-1"')]);
    expect(first.status).toBe(200);
    for (const v of ['   "spaced-1"', '"spaced-1"   ', '\t "spaced-1" \t', ' spaced-1 ']) {
      const res = await raw([b(v)]);
      expect([v, res.status, res.headers['idempotent-replayed'], res.body]).toEqual([
        v,
        200,
        'true',
        first.body,
      ]);
    }
    // A space inside the quotes belongs to the key: " spaced-1" is not "spaced-1", and a space is not a key
    // character, so it is refused rather than trimmed into someone else's key.
    const before = await recorded();
    for (const v of ['" spaced-1"', '"spaced-1 "', '"spaced 1"']) {
      const res = await raw([b(v)]);
      expect([v, res.status, JSON.parse(res.body).code]).toEqual([v, 400, 'INVALID_IDEMPOTENCY_KEY']);
      expect(JSON.parse(res.body).details).toMatchObject({ reason: 'characters' });
    }
    expect(await recorded()).toEqual(before);
  });
});

describe('idempotencyKeyOf (for other adapters, which may hand over arrays)', () => {
  it('answers each case with its reason', () => {
    const reason = (h: string | string[] | undefined) => {
      try {
        idempotencyKeyOf(h);
        return 'accepted';
      } catch (err) {
        return (err as { details?: { reason?: string } }).details?.reason;
      }
    };
    expect(reason(undefined)).toBe('missing');
    expect(reason([])).toBe('missing');
    expect(reason(['"a"', '"b"'])).toBe('several');
    expect(reason(['"a"'])).toBe('accepted');
    expect(reason(' \t"a" ')).toBe('accepted');
    expect(reason('"a"\t,"b"')).toBe('several');
    expect(reason('"\u00e9"')).toBe('non_ascii');
    expect(reason(`"${'\\"'.repeat(256)}"`)).toBe('too_long');
    expect(idempotencyKeyOf(`"${'\\\\'.repeat(255)}"`)).toBe('\\'.repeat(255));
  });
});

import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { relayCommand } from '../../src/cli/relay.js';
import { run } from '../../src/cli/run.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { tcpProxy } from '../support/tcp-proxy.js';
import {
  deleteStream,
  NATS_URL,
  natsAvailable,
  natsConnection,
  uniquePrefix,
  uniqueStream,
} from './support/nats.js';

function io(env: NodeJS.ProcessEnv = {}): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (t) => lines.push(t), err: (t) => errors.push(t), env, cwd: process.cwd() };
}

describe('tally relay: arguments', () => {
  it('is listed in help and has its own usage', async () => {
    const a = io();
    expect(await run(['help'], a)).toBe(0);
    expect(a.lines.join('\n')).toContain('tally relay [--nats SERVERS]');
    const b = io();
    expect(await run(['help', 'relay'], b)).toBe(0);
    expect(b.lines.join('\n')).toContain('--duplicate-window D');
  });

  it('bad options are usage errors (exit 2); bad names are usage errors too, before anything opens', async () => {
    for (const args of [
      ['--batch-size', '0'],
      ['--duplicate-window', '5x'],
      ['--poll-ms', 'x'],
      ['--bogus'],
    ]) {
      const x = io();
      expect(await run(['relay', ...args], x), args.join(' ')).toBe(2);
      expect(x.errors[0]).toMatch(/^usage error: tally relay/);
    }
    for (const args of [
      ['--prefix', 'a.b'],
      ['--stream', 'x*'],
      ['--schema', 'a.b'],
    ]) {
      const x = io();
      expect(await run(['relay', ...args, '--data-dir', '/nonexistent/tally'], x), args.join(' ')).toBe(2);
      expect(x.errors[0]).toMatch(/^usage error: tally relay: --(prefix|stream|schema)/);
    }
  });
});

describe.skipIf(!postgresAvailable)('tally relay on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(2);
    await (await createTally({ db: t.db })).migrate();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a NATS that refuses connections is NATS_UNREACHABLE, exit 1', async () => {
    const proxy = await tcpProxy({ host: '127.0.0.1', port: 4222 });
    proxy.cut('refuse');
    try {
      const x = io();
      expect(await run(['relay', '--nats', `127.0.0.1:${proxy.port}`, '--database-url', t.url!], x)).toBe(1);
      expect(x.errors[0]).toMatch(/^error NATS_UNREACHABLE: connecting to NATS at 127\.0\.0\.1:\d+/);
    } finally {
      await proxy.close();
    }
  });

  it.skipIf(!natsAvailable)('runs until SIGTERM, then stops cleanly with exit 0', async () => {
    const signals = new EventEmitter();
    const x = io();
    const stream = uniqueStream('cli');
    const done = relayCommand(
      ['--nats', NATS_URL, '--database-url', t.url!, '--stream', stream, '--prefix', uniquePrefix()],
      x,
      signals,
    );
    const end = Date.now() + 30_000;
    while (!x.lines.some((l) => l.startsWith('relay on ')) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    signals.emit('SIGTERM');
    expect(await done).toBe(0);
    expect(x.lines[0]).toMatch(new RegExp(`^relay on PostgreSQL .* -> NATS ${NATS_URL}, stream ${stream}: `));
    expect(x.lines.at(-1)).toBe('relay: stopped; published 0, duplicates dropped 0, batches 0, errors 0');
    expect(signals.listenerCount('SIGTERM')).toBe(0);
    const nc = await natsConnection();
    await deleteStream(nc, stream);
    await nc.close();
  });
});

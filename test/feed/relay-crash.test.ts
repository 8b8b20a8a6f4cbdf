// The relay killed mid-stream with SIGKILL (a real child process) and restarted: the stream must hold
// every log entry, none twice. Twice: once at the worst moment (acks in, checkpoint not yet written),
// forced by the child's STALL_AFTER, and once at a random moment while `tally relay` (the CLI) is busy.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { count, resourcesFixture } from '../support/resources.js';
import { until } from '../support/until.js';
import {
  deleteStream,
  NATS_URL,
  natsAvailable,
  natsConnection,
  readStream,
  uniquePrefix,
  uniqueStream,
} from './support/nats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const KEYS = 3000;

interface Proc {
  child: ChildProcess;
  out: string[];
  err: string[];
  exited: Promise<number | null>;
}

function start(file: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout!.on('data', (d) => out.push(...String(d).split('\n').filter(Boolean)));
  child.stderr!.on('data', (d) => err.push(...String(d).split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, out, err, exited };
}

describe.skipIf(!natsAvailable || !postgresAvailable)('relay SIGKILL and restart', () => {
  let nc: NatsConnection;
  let t: TestDatabase;
  const procs: Proc[] = [];
  const stream = uniqueStream('crash');
  const prefix = uniquePrefix();
  beforeAll(async () => {
    nc = await natsConnection();
    t = await freshPostgres(4);
  });
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await deleteStream(nc, stream);
    await nc?.close();
    await t?.close();
  });

  it('holds every entry exactly once after two SIGKILLs', async () => {
    const { tally, resources } = await resourcesFixture(t.db, KEYS);
    const s = tally.config.s;
    const messages = async () => (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
    const logCount = () => count(t.db, `SELECT 1 FROM ${s}.log`);
    // Writers commit in batches of 100 while relays come and go.
    let writing = true;
    let next = 1;
    const writer = (async () => {
      while (writing && next <= KEYS) {
        const keys = Array.from({ length: 100 }, (_, i) => next + i).filter((k) => k <= KEYS);
        next += 100;
        await resources.transition({ keys, to: 'frozen', actor: 'writer' });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    // 1. The worst moment: batch 5's acks are in, its checkpoint is not written.
    const env = { RELAY_DATABASE_URL: t.url!, RELAY_STREAM: stream, RELAY_PREFIX: prefix, NATS_URL };
    const first = start('test/feed/support/nats-relay-child.ts', [], { ...env, STALL_AFTER: '5' });
    procs.push(first);
    await until('the stalled batch', () => first.out.includes('STALLED'));
    const stored = await messages();
    expect(stored).toBe(500);
    // Checkpoint moves run in order behind the handlers (decision 0047): batch 4's may still be in flight
    // when batch 5's handler stalls. Wait for it, then kill: the checkpoint must stop at batch 4.
    const delivered = async () => {
      const [cp] = await t.db.query<{ delivered: string }>({
        text: `SELECT delivered::text FROM ${s}.feed_consumers WHERE name = 'nats-relay:log'`,
      });
      return Number(cp!.delivered);
    };
    await until('batch 4 checkpointed', async () => (await delivered()) >= 400);
    first.child.kill('SIGKILL');
    await first.exited;
    // The checkpoint stands after batch 4: the feed will hand batch 5 (already in the stream) out again,
    // and only the broker's duplicate detection keeps it from being stored twice.
    expect(await delivered()).toBe(400);

    // 2. `tally relay` takes over once the dead relay's lease ran out; killed at a random moment.
    const cli = (extra: string[] = []) =>
      start(
        'src/cli/main.ts',
        [
          'relay',
          '--database-url',
          t.url!,
          '--stream',
          stream,
          '--prefix',
          prefix,
          '--sources',
          'log',
          '--batch-size',
          '100',
          '--lease-ms',
          '1500',
          '--poll-ms',
          '20',
          ...extra,
        ],
        { NATS_URL },
      );
    const second = cli();
    procs.push(second);
    const target = 500 + 100 + Math.floor(Math.random() * 900);
    await until('the CLI relay to publish more', async () => (await messages()) >= target);
    second.child.kill('SIGKILL');
    await second.exited;

    // 3. A last relay finishes the job and stops cleanly on SIGTERM.
    writing = false;
    await writer;
    const third = cli();
    procs.push(third);
    const total = await logCount();
    expect(total).toBe(Math.min(next - 1, KEYS));
    await until('every entry in the stream', async () => (await messages()) >= total);
    await new Promise((r) => setTimeout(r, 300));
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(third.out.at(-1)).toMatch(/^relay: stopped; published \d+, duplicates dropped \d+/);

    const msgs = await readStream(nc, stream);
    const ids = new Set(msgs.map((m) => m.msgId));
    expect(msgs).toHaveLength(total);
    expect(ids.size).toBe(total);
    const logIds = await t.db.query<{ id: string }>({ text: `SELECT id::text FROM ${s}.log` });
    expect(ids).toEqual(new Set(logIds.map((r) => `log-${r.id}`)));
  });
});

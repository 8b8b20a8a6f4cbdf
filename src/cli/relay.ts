import { quoteIdent } from '../db/ident.js';
import { streamName, subjectToken } from '../feed/nats/names.js';
import type { FeedSource } from '../feed/types.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import {
  DATABASE_OPTIONS,
  databaseOptions,
  intOption,
  optionCheck,
  parseCommand,
  stringOption,
} from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  nats: { type: 'string' },
  stream: { type: 'string' },
  prefix: { type: 'string' },
  sources: { type: 'string' },
  name: { type: 'string' },
  'duplicate-window': { type: 'string' },
  'batch-size': { type: 'string' },
  'lease-ms': { type: 'string' },
  'poll-ms': { type: 'string' },
} as const;

function durationMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(ms|s|m|h)$/.exec(v);
  if (!m) throw new UsageError('tally relay: --duplicate-window must look like 90s, 15m or 2h');
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/**
 * `tally relay`: runs the JetStream relay until SIGINT/SIGTERM, printing a line per interval with
 * progress. Loads `nats` only here, so the rest of the CLI works without it.
 *
 * @example
 * await relayCommand(['--nats', '127.0.0.1:4222', '--database-url', url], io);
 */
export async function relayCommand(
  args: string[],
  io: Io,
  signals: NodeJS.EventEmitter = process,
): Promise<number> {
  const values = parseCommand('relay', args, OPTIONS);
  const opts = databaseOptions(values, 'relay');
  quoteIdent(opts.schema, '--schema');
  const servers = stringOption(values, 'nats', 'relay') ?? io.env.NATS_URL ?? '127.0.0.1:4222';
  const sourcesText = stringOption(values, 'sources', 'relay');
  const sources = sourcesText?.split(',').map((s) => s.trim()) as FeedSource[] | undefined;
  if (sources?.some((s) => s !== 'log' && s !== 'command_events')) {
    throw new UsageError('tally relay: --sources takes log, command_events or both, comma-separated');
  }
  const batchSize = intOption(values, 'batch-size', 'relay', 1, 10_000);
  const pollMs = intOption(values, 'poll-ms', 'relay', 1, 3_600_000) ?? 100;
  const leaseMs = intOption(values, 'lease-ms', 'relay', 100, 86_400_000);
  const duplicateWindowMs = durationMs(stringOption(values, 'duplicate-window', 'relay'));
  const stream = stringOption(values, 'stream', 'relay');
  const prefix = stringOption(values, 'prefix', 'relay');
  const name = stringOption(values, 'name', 'relay');
  // Names are checked before anything is opened: a bad one connects to nothing and writes nothing.
  optionCheck('relay', () => {
    if (stream !== undefined) streamName(stream, '--stream');
    if (prefix !== undefined) subjectToken(prefix, '--prefix');
    subjectToken(opts.schema, '--schema (as a NATS subject token)');
  });

  // Dynamic: `nats` is an optional peer dependency, needed only by this command.
  const { connectNats, startRelay } = await import('../feed/nats/index.js');
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const nc = await connectNats(servers);
    try {
      let lastError = '';
      const relay = await startRelay({
        tally,
        nats: nc,
        pollMs,
        ...(stream === undefined ? {} : { stream }),
        ...(prefix === undefined ? {} : { prefix }),
        ...(sources === undefined ? {} : { sources }),
        ...(name === undefined ? {} : { name }),
        ...(batchSize === undefined ? {} : { batchSize }),
        ...(leaseMs === undefined ? {} : { leaseMs }),
        ...(duplicateWindowMs === undefined ? {} : { duplicateWindowMs }),
        onError: (err) => {
          const line = err instanceof Error ? err.message : String(err);
          if (line !== lastError) io.err(`relay: ${line} (retrying)`);
          lastError = line;
        },
      });
      io.out(
        `relay on ${conn.label} (schema ${opts.schema}) -> NATS ${servers}, stream ${relay.stream}: ${relay.subjects.join(', ')}`,
      );
      await new Promise<void>((resolve) => {
        let reported = -1;
        const tick = setInterval(() => {
          const s = relay.stats;
          if (s.stored + s.duplicates !== reported) {
            reported = s.stored + s.duplicates;
            io.out(`relay: published ${s.stored}, duplicates dropped ${s.duplicates}, batches ${s.batches}`);
          }
        }, 5000);
        tick.unref();
        const stop = () => {
          clearInterval(tick);
          signals.off('SIGINT', stop);
          signals.off('SIGTERM', stop);
          io.out('relay: stopping after the batch in hand');
          resolve();
        };
        signals.on('SIGINT', stop);
        signals.on('SIGTERM', stop);
      });
      await relay.stop();
      const s = relay.stats;
      io.out(
        `relay: stopped; published ${s.stored}, duplicates dropped ${s.duplicates}, batches ${s.batches}, errors ${s.errors}`,
      );
      return EXIT_OK;
    } finally {
      await nc.drain().catch(() => {});
    }
  } finally {
    await conn.close();
  }
}

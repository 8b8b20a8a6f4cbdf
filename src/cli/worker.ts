import { checkAlertDelivery } from '../commands/alert-delivery-options.js';
import { quoteIdent } from '../db/ident.js';
import type { SealRound } from '../evidence/seal-loop.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK, UsageError } from './errors.js';
import { originOption, sealKeyOption } from './evidence-options.js';
import type { Io } from './io.js';
import {
  DATABASE_OPTIONS,
  databaseOptions,
  intOption,
  optionCheck,
  parseCommand,
  stringOption,
} from './options.js';
import { sinkFromSpec } from './seal-sinks.js';
import { loadSetupModule } from './worker-module.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  module: { type: 'string' },
  once: { type: 'boolean' },
  'batch-size': { type: 'string' },
  concurrency: { type: 'string' },
  'poll-ms': { type: 'string' },
  id: { type: 'string' },
  'seal-every': { type: 'string' },
  'seal-after': { type: 'string' },
  'key-file': { type: 'string' },
  origin: { type: 'string' },
  sink: { type: 'string', multiple: true },
  nats: { type: 'string' },
  'alerts-webhook': { type: 'string' },
  'alerts-subject': { type: 'string' },
} as const;

/**
 * `tally worker --module PATH [--once] [--batch-size N] [--concurrency N] [--poll-ms N] [--id NAME]`:
 * drives unfinished commands of every type the module declares, until SIGINT/SIGTERM (or, with
 * `--once`, until a round finds nothing due).
 *
 * @example
 * await workerCommand(['--module', './tally.setup.mjs', '--once'], io);
 */
export async function workerCommand(
  args: string[],
  io: Io,
  signals: NodeJS.EventEmitter = process,
): Promise<number> {
  const values = parseCommand('worker', args, OPTIONS);
  const modulePath = stringOption(values, 'module', 'worker');
  if (modulePath === undefined) {
    throw new UsageError('tally worker: --module PATH is required (a module that declares your commands)');
  }
  const opts = databaseOptions(values, 'worker');
  quoteIdent(opts.schema, '--schema');
  const batchSize = intOption(values, 'batch-size', 'worker', 1, 10_000);
  const concurrency = intOption(values, 'concurrency', 'worker', 1, 256);
  const pollMs = intOption(values, 'poll-ms', 'worker', 1, 3_600_000);
  const id = stringOption(values, 'id', 'worker');
  // Sealing (decision 0063): --seal-every SECONDS and/or --seal-after ROWS, with a key and --sink(s).
  const sealEvery = intOption(values, 'seal-every', 'worker', 1, 86_400);
  const sealAfter = intOption(values, 'seal-after', 'worker', 1, 100_000_000);
  const specs = values.sink === undefined ? [] : ([] as unknown[]).concat(values.sink).map(String);
  const sealing = sealEvery !== undefined || sealAfter !== undefined;
  if (sealing && specs.length === 0) {
    throw new UsageError(
      'tally worker: sealing needs at least one --sink (file:PATH, nats:SUBJECT or a URL)',
    );
  }
  if (!sealing && specs.length > 0) {
    throw new UsageError('tally worker: --sink needs --seal-every SECONDS or --seal-after ROWS');
  }
  const origin = sealing ? originOption(values, io.env, opts.schema, 'worker') : '';
  const key = sealing ? sealKeyOption(values, io.env, io.cwd) : null;
  const servers = stringOption(values, 'nats', 'worker') ?? io.env.NATS_URL ?? '127.0.0.1:4222';
  const sinks = await Promise.all(
    specs.map((spec) => sinkFromSpec(spec, { cwd: io.cwd, servers, command: 'worker' })),
  );

  // Alert delivery (decision 0144): the webhook URL may carry a token, so the environment may hold it.
  const webhook = stringOption(values, 'alerts-webhook', 'worker') ?? io.env.TALLY_ALERTS_WEBHOOK;
  const subject = stringOption(values, 'alerts-subject', 'worker');
  const alerts =
    webhook === undefined && subject === undefined
      ? undefined
      : {
          ...(webhook === undefined ? {} : { webhook: { url: webhook } }),
          ...(subject === undefined ? {} : { nats: { subject, servers } }),
        };

  optionCheck('worker', () => checkAlertDelivery(alerts)); // a bad URL or subject is a usage error

  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema, ...(alerts ? { alerts } : {}) });
    await tally.assertMigrated();
    const names = await loadSetupModule(modulePath, io.cwd, tally);
    let errors = 0;
    const worker = tally.worker({
      ...(id === undefined ? {} : { id }),
      ...(batchSize === undefined ? {} : { batchSize }),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(pollMs === undefined ? {} : { pollMs }),
      ...(key === null
        ? {}
        : {
            seal: {
              key,
              origin,
              sinks,
              everyMs: (sealEvery ?? 60) * 1000,
              ...(sealAfter === undefined ? {} : { afterRows: sealAfter }),
              onRound: (r: SealRound) => {
                if (r.note !== null) io.out(`seal: ${origin}: tree size ${r.treeSize} (+${r.appended})`);
                for (const f of r.report?.failed ?? []) io.err(`seal: sink ${f.sink}: ${f.error.message}`);
              },
            },
          }),
      onError: (err, commandId) => {
        errors++;
        io.err(`worker: ${commandId ?? 'round'}: ${err instanceof Error ? err.message : String(err)}`);
      },
    });
    io.out(`worker ${worker.id} on ${conn.label} (schema ${opts.schema}): commands ${names.join(', ')}`);
    const totals = { claimed: 0, finished: 0 };
    const count = (r: { claimed: number; results: { status: string }[] }) => {
      totals.claimed += r.claimed;
      totals.finished += r.results.filter((x) => x.status === 'succeeded' || x.status === 'failed').length;
    };
    let stopping = false;
    let wake: (() => void) | null = null;
    const stop = () => {
      if (!stopping) io.out('worker: stopping after the round in progress');
      stopping = true;
      wake?.();
    };
    signals.on('SIGINT', stop);
    signals.on('SIGTERM', stop);
    worker.sealer?.start();
    try {
      while (!stopping) {
        let r: Awaited<ReturnType<typeof worker.runOnce>>;
        try {
          r = await worker.runOnce();
        } catch (err) {
          if (values.once) throw err;
          // The database is away: say so, wait a poll interval, try again (the worker's contract).
          errors++;
          io.err(`worker: round failed: ${err instanceof Error ? err.message : String(err)}`);
          r = { claimed: 0, results: [], errors: 1 };
        }
        count(r);
        if (r.alerts && (r.alerts.attempted > 0 || r.alerts.skipped > 0)) {
          const a = r.alerts;
          io.out(
            `alerts: delivered ${a.delivered}, failed ${a.failed} (retried later), skipped ${a.skipped}`,
          );
        }
        if (r.claimed > 0) {
          const by = new Map<string, number>();
          for (const x of r.results) by.set(x.status, (by.get(x.status) ?? 0) + 1);
          io.out(
            `round: claimed ${r.claimed}; ${[...by].map(([k, n]) => `${k} ${n}`).join(', ') || 'none driven'}`,
          );
          continue;
        }
        if (values.once) break;
        await new Promise<void>((done) => {
          const t = setTimeout(done, pollMs ?? 1000);
          wake = () => {
            clearTimeout(t);
            done();
          };
        });
        wake = null;
      }
    } finally {
      signals.off('SIGINT', stop);
      signals.off('SIGTERM', stop);
      await worker.sealer?.stop();
      await tally.alerts.close(); // the NATS connection alert delivery opened, if any
    }
    io.out(`worker ${worker.id}: stopped; ${summary(totals, errors)}`);
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

function summary(t: { claimed: number; finished: number }, errors: number): string {
  return `claimed ${t.claimed}, finished ${t.finished}, errors ${errors}`;
}

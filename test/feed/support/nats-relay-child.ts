// A relay in a process of its own, for crash tests. Publishes like `tally relay`, prints one line per
// stored batch, and with STALL_AFTER=n stops after the n-th batch's acks arrived but before its
// checkpoint is written (it never returns from the batch), so a SIGKILL then lands exactly in the window
// where the stream holds entries the feed will deliver again.
import pg from 'pg';
import { postgres } from '../../../src/db/postgres/index.js';
import { connectNats } from '../../../src/feed/nats/connect.js';
import { startRelay } from '../../../src/feed/nats/index.js';
import { createTally } from '../../../src/tally.js';

const env = process.env;
const stallAfter = Number(env.STALL_AFTER ?? 0);
const pool = new pg.Pool({ connectionString: env.RELAY_DATABASE_URL, max: 4 });
pool.on('error', () => {});
const tally = await createTally({ db: postgres(pool) });
const nc = await connectNats(env.NATS_URL ?? '127.0.0.1:4222');
let batches = 0;
await startRelay({
  tally,
  nats: nc,
  stream: env.RELAY_STREAM!,
  prefix: env.RELAY_PREFIX!,
  sources: ['log'],
  batchSize: Number(env.RELAY_BATCH ?? 100),
  leaseMs: Number(env.RELAY_LEASE_MS ?? 1500),
  pollMs: 20,
  onBatch: async (b) => {
    batches++;
    process.stdout.write(`BATCH ${batches} ${b.entries.length} stored ${b.stored} dup ${b.duplicates}\n`);
    if (stallAfter > 0 && batches === stallAfter) {
      process.stdout.write('STALLED\n');
      await new Promise(() => {}); // never checkpoints this batch
    }
  },
  onError: (err) =>
    process.stderr.write(`relay error: ${err instanceof Error ? err.message : String(err)}\n`),
});
process.stdout.write('READY\n');
// Exit when the test runner that started us is gone.
process.on('disconnect', () => process.exit(0));

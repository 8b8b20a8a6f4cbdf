// The feed bench's writers in a process of their own, so the relay measured in the parent does not
// share an event loop with them. Reads its orders from the environment, writes, then sends the commit
// time of every log row (`key:version` -> ms since the epoch, high resolution) to the parent over IPC.
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import { createTally } from '../src/tally.js';
import { type CommitTimes, runWriters } from './_feed-load.js';

const env = process.env;
const pool = new pg.Pool({ connectionString: env.FEED_DB_URL, max: Number(env.FEED_WRITERS) + 1 });
pool.on('error', () => {});
const tally = await createTally({ db: postgres(pool) });
const items = tally.entity('item', { table: 'items', states: { active: ['frozen'], frozen: ['active'] } });
await items.transition({ keys: [1], to: 'active', actor: 'warm-up' }); // learn the table's shape (no change)
const send = (m: unknown) => new Promise<void>((r) => process.send!(m, () => r()));
await send({ ready: true });
await new Promise<void>((r) => process.once('message', () => r())); // the parent's go
const commits: CommitTimes = new Map();
const result = await runWriters(
  items,
  {
    writers: Number(env.FEED_WRITERS),
    perWriter: Number(env.FEED_PER_WRITER),
    batch: Number(env.FEED_BATCH),
    seconds: Number(env.FEED_SECONDS),
    startVersion: 0,
    ratePerS: Number(env.FEED_RATE ?? 0),
  },
  commits,
);
const all = [...commits];
for (let i = 0; i < all.length; i += 50_000) await send({ commits: all.slice(i, i + 50_000) });
await send({ done: result });
await pool.end();
process.disconnect();

// The points-redemption chain, three real processes: A (page) → B (Tally, PGlite) → C (prize platform).
// Run: `npm start`. Set DATABASE_URL=postgres://... to run B on PostgreSQL instead of embedded PGlite.
import { startChain } from './chain.js';

const chain = await startChain({
  echo: process.argv.includes('--verbose'),
  // PostgreSQL outlives the run, C's in-memory records do not: B starts from nothing there too.
  ...(process.env.DATABASE_URL ? { bEnv: { DATABASE_URL: process.env.DATABASE_URL }, resetB: true } : {}),
});
for (const user of ['alice', 'bob', 'carol']) {
  await fetch(`${chain.b.url}/admin/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, points: 100 }),
  });
}
console.log(`C prize platform: ${chain.c.url} (fault switches: POST ${chain.c.url}/admin/faults)`);
console.log(
  `B points service: ${chain.b.url} (${process.env.DATABASE_URL ? 'PostgreSQL' : `PGlite in ${chain.dataDir}`})`,
);
console.log(`Open the page:    ${chain.a.url}`);
console.log('Ctrl-C stops all three.');

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, async () => {
    stopping = true;
    await chain.stop();
    process.exit(0);
  });
}
for (const n of [chain.a, chain.b, chain.c]) {
  void n.exited.then((code) => {
    if (stopping) return;
    console.error(`${n.name} exited (${code}); stopping the chain.\n${n.output()}`);
    void chain.stop().then(() => process.exit(1));
  });
}

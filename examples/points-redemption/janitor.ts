// Removes B's temporary data directory however the launcher ends — also when it is killed outright
// (SIGKILL, or tsx's CLI giving up on it), when it cannot clean up itself. Started by chain.ts with an IPC
// channel: the launcher sends B's pid each time B starts; when the channel closes (the launcher stopped or
// died), the janitor waits for B to exit (at most 10 s, then kills it), removes the directory and exits.
// It ignores SIGINT, SIGTERM and SIGHUP: Ctrl-C reaches the whole process group, and it must outlive B.
//
// argv: <directory to remove>
import { rmSync } from 'node:fs';

const dir = process.argv[2] ?? '';
if (!dir) {
  console.error('janitor: which directory?');
  process.exit(2);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => {});

const pids = new Set<number>();
process.on('message', (m: { pid?: number }) => {
  if (typeof m?.pid === 'number') pids.add(m.pid);
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

async function cleanUp(): Promise<never> {
  const until = Date.now() + 10_000;
  while ([...pids].some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  while ([...pids].some(alive)) await new Promise((r) => setTimeout(r, 50));
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  process.exit(0);
}

if (process.connected) {
  process.once('disconnect', cleanUp);
  process.send?.({ ready: true }); // B's pid comes after this: messages sent before the listener would be lost
} else {
  void cleanUp(); // the launcher is gone already
}

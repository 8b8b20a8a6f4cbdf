import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { TallyError } from '../../errors.js';
import { type DataDirHolder, type HolderRecord, holderAlive, thisProcess } from './holder.js';

/**
 * One owner per embedded data directory (decision 0008). The lock is a directory, `<dataDir>/tally.lock/`,
 * holding exactly one file, `holder.<id>.json`, whose name says who holds it and whose content says how to
 * reach them. Every step is one atomic rename:
 * - take a free lock: a complete lock directory, built aside, renamed onto `tally.lock` (fails while it
 *   is not empty, so of two openers exactly one gets it);
 * - take over a dead holder's lock: rename its `holder.<dead id>.json` to `holder.<my id>.json` (of two
 *   racers only one finds the old name; the other sees the winner, alive, and is refused);
 * - release: remove the holder file, then the (empty) directory.
 */
export const LOCK_DIR = 'tally.lock';

const HOLDER_FILE = /^holder\.(.+)\.json$/;

/** A lock this process holds. */
export interface DataDirLock {
  readonly dataDir: string;
  readonly record: HolderRecord;
  /** Records the socket the holder now offers (atomically replaces the holder file). */
  setSocket(socket: string | null): void;
  /** Gives the lock up; idempotent, synchronous (it also runs on process exit). */
  release(): void;
}

/**
 * Takes the data directory's lock, creating the directory if needed, or throws DATA_DIR_LOCKED naming
 * the live holder. A lock whose holder is gone is taken over.
 *
 * @example
 * const lock = acquireDataDirLock('/srv/app/.tally-data'); // ... open PGlite ... lock.release();
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const lockDir = join(dataDir, LOCK_DIR);
  let record = thisProcess();
  const mine = () => join(lockDir, `holder.${record.id}.json`);
  for (let attempt = 0; attempt < 20; attempt++) {
    if (takeFree(dataDir, lockDir, record))
      return held(
        dataDir,
        lockDir,
        () => record,
        (r) => (record = r),
      );
    const current = readHolder(lockDir);
    if (current === null) {
      clearDebris(lockDir); // released in between, or a crashed writer's leftovers: nobody holds it
      continue;
    }
    if (holderAlive(current.id, current.record)) {
      // Mid-takeover the file already has the taker's name but still the dead holder's content.
      const record = current.record?.id === current.id ? current.record : null;
      throw lockedError(dataDir, record, current.id);
    }
    try {
      renameSync(join(lockDir, current.file), mine());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another opener took it over first
      throw err;
    }
    writeRecord(lockDir, record);
    return held(
      dataDir,
      lockDir,
      () => record,
      (r) => (record = r),
    );
  }
  throw new TallyError(
    'DATA_DIR_LOCKED',
    `data directory ${dataDir}: its lock keeps changing hands; try again`,
    {
      details: { dataDir },
    },
  );
}

/** Who holds the data directory now (a live holder), or null when nobody does. */
export function readDataDirHolder(dataDir: string): DataDirHolder | null {
  const current = readHolder(join(dataDir, LOCK_DIR));
  if (current === null || !holderAlive(current.id, current.record)) return null;
  if (current.record?.id === current.id) return current.record;
  // Mid-takeover: only the name is the new holder's yet.
  return { pid: Number(current.id.split('.')[0]), hostname: '', command: '', since: '', socket: null };
}

function takeFree(dataDir: string, lockDir: string, record: HolderRecord): boolean {
  const aside = join(dataDir, `.tally.lock.${record.id}.tmp`);
  mkdirSync(aside, { mode: 0o700 });
  try {
    writeFileSync(join(aside, `holder.${record.id}.json`), JSON.stringify(record), { mode: 0o600 });
    renameSync(aside, lockDir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(aside, { recursive: true, force: true });
  }
}

function readHolder(lockDir: string): { file: string; id: string; record: HolderRecord | null } | null {
  let names: string[];
  try {
    names = readdirSync(lockDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  for (const file of names) {
    const m = HOLDER_FILE.exec(file);
    if (!m) continue;
    let record: HolderRecord | null = null;
    try {
      record = JSON.parse(readFileSync(join(lockDir, file), 'utf8')) as HolderRecord;
    } catch {
      // gone or being replaced: the name alone says who holds it
    }
    return { file, id: m[1]!, record };
  }
  return null;
}

// With no holder file in it, nothing in the lock directory belongs to anyone.
function clearDebris(lockDir: string): void {
  try {
    const names = readdirSync(lockDir);
    if (names.some((name) => HOLDER_FILE.test(name))) return; // someone took it meanwhile
    for (const name of names) rmSync(join(lockDir, name), { force: true, recursive: true });
  } catch {
    // gone: nothing to clear
  }
}

function writeRecord(lockDir: string, record: HolderRecord): void {
  const tmp = join(lockDir, `.${record.id}.tmp`);
  writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
  renameSync(tmp, join(lockDir, `holder.${record.id}.json`));
}

function held(
  dataDir: string,
  lockDir: string,
  get: () => HolderRecord,
  set: (r: HolderRecord) => void,
): DataDirLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldLocks.delete(release);
    if (heldLocks.size === 0) watchProcess(false);
    try {
      unlinkSync(join(lockDir, `holder.${get().id}.json`));
      clearDebris(lockDir);
      rmdirSync(lockDir);
    } catch {
      // already gone, or a new holder's directory took its place
    }
  };
  if (heldLocks.size === 0) watchProcess(true);
  heldLocks.add(release);
  return {
    dataDir,
    get record() {
      return get();
    },
    setSocket(socket) {
      if (released) return;
      set({ ...get(), socket });
      writeRecord(lockDir, get());
    },
    release,
  };
}

// Locks this process holds are given up when it exits: on 'exit', and on a termination signal nobody
// else listens to (then the signal is raised again, so the process still ends the way it would have).
const heldLocks = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function releaseAll(): void {
  for (const release of [...heldLocks]) release();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the application handles it (and exits through 'exit')
  releaseAll();
  watchProcess(false);
  process.kill(process.pid, signal);
}

function watchProcess(on: boolean): void {
  if (on) {
    process.on('exit', releaseAll);
    for (const s of SIGNALS) process.on(s, onSignal);
  } else {
    process.removeListener('exit', releaseAll);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
  }
}

/** The refusal a second opener gets. */
export function lockedError(dataDir: string, holder: HolderRecord | null, id: string): TallyError {
  const pid = holder?.pid ?? Number(id.split('.')[0]);
  const who = holder
    ? `pid ${holder.pid} (${holder.command})${holder.pid === process.pid ? ', this very process,' : ''} on ${holder.hostname}, since ${holder.since}`
    : `pid ${pid}`;
  const reach = holder?.socket
    ? `It shares the directory through its socket in ${holder.socket}: open it with pglite(dir, { ifHeld: 'connect' }) (the tally CLI does so by itself).`
    : `Run this work in that process, or have it open the directory with pglite(dir, { share: true }) so other Tally processes connect through its socket; or stop it first.`;
  return new TallyError(
    'DATA_DIR_LOCKED',
    `data directory ${dataDir} is held by ${who}. PGlite is single-user: a second process on the same directory loses writes or corrupts it. ${reach}`,
    {
      details: {
        dataDir,
        pid,
        hostname: holder?.hostname,
        command: holder?.command,
        since: holder?.since,
        socket: holder?.socket ?? null,
      },
    },
  );
}

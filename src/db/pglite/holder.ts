import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';

/** Who holds an embedded data directory: what the lock records, and what a refused opener is told. */
export interface DataDirHolder {
  /** The holder's process id. */
  readonly pid: number;
  /** The machine it runs on (a lock from another host cannot be checked, so it is never taken over). */
  readonly hostname: string;
  /** Its command line, shortened. */
  readonly command: string;
  /** When it took the lock (ISO 8601). */
  readonly since: string;
  /** The directory of its socket (`host` for `pg`) when it shares the directory, else null. */
  readonly socket: string | null;
}

/** The lock's own record: the holder plus what tells a live holder from a reused pid. */
export interface HolderRecord extends DataDirHolder {
  /** `<pid>.<start ticks or x>.<random>`: unique per lock taken, also the holder file's name. */
  readonly id: string;
  /** The kernel's boot id when known (Linux): a lock from before a reboot is stale. */
  readonly bootId: string | null;
}

/** The start time of a process in clock ticks since boot (Linux /proc), or null where unknown. */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22 overall: starttime
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function commandLine(): string {
  const [node, ...rest] = process.argv;
  const line = [node ? basename(node) : 'node', ...rest].join(' ');
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** The record this process writes when it takes a lock. */
export function thisProcess(socket: string | null = null): HolderRecord {
  const ticks = processStartTicks(process.pid);
  const rand = Math.random().toString(36).slice(2, 10);
  return {
    id: `${process.pid}.${ticks ?? 'x'}.${rand}`,
    pid: process.pid,
    hostname: hostname(),
    command: commandLine(),
    since: new Date().toISOString(),
    socket,
    bootId: bootId(),
  };
}

/** The pid and start ticks a holder id names (`<pid>.<ticks|x>.<random>`), or null when malformed. */
export function parseHolderId(id: string): { pid: number; ticks: string | null } | null {
  const m = /^(\d+)\.(\d+|x)\.[a-z0-9]+$/.exec(id);
  if (!m) return null;
  return { pid: Number(m[1]), ticks: m[2] === 'x' ? null : m[2]! };
}

/**
 * Whether the process that holds a lock may still be running. Only a definite "gone" is false: the pid
 * does not exist, its start time differs (the pid was reused), or the machine has rebooted since. A
 * holder on another host cannot be checked and counts as alive.
 */
export function holderAlive(id: string, record: HolderRecord | null): boolean {
  const parsed = parseHolderId(id);
  if (!parsed) return true; // not ours to judge: never steal
  if (record && record.id === id) {
    if (record.hostname !== hostname()) return true;
    const boot = bootId();
    if (record.bootId && boot && record.bootId !== boot) return false;
  }
  try {
    process.kill(parsed.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    return true; // EPERM: it exists, under another user
  }
  if (parsed.ticks === null) return true;
  const now = processStartTicks(parsed.pid);
  return now === null || now === parsed.ticks;
}

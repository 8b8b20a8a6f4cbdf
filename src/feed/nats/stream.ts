import type { JetStreamManager, StreamConfig, StreamInfo } from 'nats';
import { TallyError } from '../../errors.js';
import { streamName } from './names.js';

/** NATS's own default duplicate window is 2 minutes; a relay restart after a crash can take longer. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 15 * 60_000;
const MAX_DUPLICATE_WINDOW_MS = 7 * 24 * 3_600_000;

// JetStream API error codes (nats-server's errors.json): stream not found, subjects overlap.
const STREAM_NOT_FOUND = 10059;
const SUBJECTS_OVERLAP = 10065;

export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
  /** How long the broker remembers message ids to drop re-published entries. */
  readonly duplicateWindowMs?: number;
  readonly description?: string;
}

/** Milliseconds to the nanoseconds JetStream configs count in. */
export const nanos = (ms: number): number => ms * 1_000_000;

export function checkWindow(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1000 || ms > MAX_DUPLICATE_WINDOW_MS) {
    throw new TallyError(
      'INVALID_RELAY_OPTIONS',
      `${what} must be an integer number of milliseconds from 1000 to ${MAX_DUPLICATE_WINDOW_MS} (7 days)`,
    );
  }
  return ms;
}

function apiCode(err: unknown): number | undefined {
  return (err as { api_error?: { err_code?: number } })?.api_error?.err_code;
}

/**
 * Creates the stream, or brings an existing one up to the spec: its subjects are added and its
 * duplicate window widened (never narrowed). Subjects another stream already captures are a
 * NATS_STREAM_CONFLICT: two streams would split the entries between them.
 *
 * @example
 * await ensureStream(await nc.jetstreamManager(), {
 *   name: 'TALLY_app', subjects: ['tally.app.log.>'], duplicateWindowMs: 15 * 60_000,
 * });
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<StreamInfo> {
  const name = streamName(spec.name);
  const windowMs = checkWindow(spec.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS, 'duplicateWindowMs');
  let info: StreamInfo | null = null;
  try {
    info = await jsm.streams.info(name);
  } catch (err) {
    if (apiCode(err) !== STREAM_NOT_FOUND) throw natsFailure(err, `reading stream ${name}`);
  }
  try {
    if (info === null) {
      const config: Partial<StreamConfig> = {
        name,
        subjects: [...spec.subjects],
        duplicate_window: nanos(windowMs),
        // Limits retention, file storage: the stream is the durable copy consumers replay from.
        retention: 'limits' as StreamConfig['retention'],
        storage: 'file' as StreamConfig['storage'],
        ...(spec.description ? { description: spec.description } : {}),
      };
      return await jsm.streams.add(config);
    }
    const have = new Set(info.config.subjects ?? []);
    const missing = spec.subjects.filter((s) => !have.has(s));
    if (missing.length === 0 && info.config.duplicate_window >= nanos(windowMs)) return info;
    return await jsm.streams.update(name, {
      ...info.config,
      subjects: [...have, ...missing],
      duplicate_window: Math.max(info.config.duplicate_window, nanos(windowMs)),
    });
  } catch (err) {
    if (apiCode(err) === SUBJECTS_OVERLAP) {
      throw new TallyError(
        'NATS_STREAM_CONFLICT',
        `another stream already captures subjects of ${name} (${spec.subjects.join(', ')}): remove it or choose another prefix`,
        { cause: err },
      );
    }
    throw natsFailure(err, `setting up stream ${name}`);
  }
}

/**
 * A NATS failure as a TallyError: a broker we cannot reach (refused, timed out, disconnected, no
 * JetStream answering) is NATS_UNREACHABLE; anything else NATS_PUBLISH_FAILED. Already typed errors pass.
 */
export function natsFailure(err: unknown, doing: string): TallyError {
  if (err instanceof TallyError) return err;
  const code = String((err as { code?: unknown })?.code ?? '');
  const message = err instanceof Error ? err.message : String(err);
  const unreachable = [
    'CONNECTION_REFUSED',
    'CONNECTION_TIMEOUT',
    'CONNECTION_CLOSED',
    'CONNECTION_DRAINING',
    'DISCONNECT',
    'TIMEOUT',
    '503',
    'ECONNREFUSED',
  ].includes(code);
  return new TallyError(
    unreachable ? 'NATS_UNREACHABLE' : 'NATS_PUBLISH_FAILED',
    `${doing}: ${message || code}`,
    { cause: err, details: { natsCode: code } },
  );
}

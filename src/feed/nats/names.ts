import { TallyError } from '../../errors.js';
import type { FeedEntry, FeedSource } from '../types.js';

// A NATS subject is dot-separated tokens; a token must not be empty nor hold whitespace, `.`, `*` or `>`
// (wildcards). We take the stricter, portable subset so a name never needs quoting in a CLI either.
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
// Stream names become file and directory names on the server: no `.`, `*`, `>`, slashes or spaces.
const STREAM = /^[A-Za-z0-9_-]{1,64}$/;
// Entity and command types are already checked by Tally (`[a-z][a-z0-9_]*`, commands may add `.` and
// `-`); a command type with dots spans several subject tokens, which `.>` in the stream subjects covers.
const TYPE_PATH = /^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64})*$/;

/** The segment of the subject for each feed source. */
export const SOURCE_SEGMENT: Readonly<Record<FeedSource, string>> = {
  log: 'log',
  command_events: 'commands',
};

function invalid(what: string, rule: string): never {
  throw new TallyError('INVALID_NATS_NAME', `${what} ${rule}`, { details: { what } });
}

/**
 * Checks one subject token (a prefix or schema name) and returns it.
 *
 * @example
 * subjectToken('tally', 'prefix'); // 'tally'; subjectToken('a.b', 'prefix') throws INVALID_NATS_NAME
 */
export function subjectToken(value: unknown, what: string): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) {
    invalid(what, `must match ${TOKEN.source} (one NATS subject token: no dots, spaces or wildcards)`);
  }
  return value;
}

/**
 * Checks a JetStream stream name and returns it.
 *
 * @example
 * streamName('TALLY_app'); // 'TALLY_app'
 */
export function streamName(value: unknown, what = 'stream'): string {
  if (typeof value !== 'string' || !STREAM.test(value)) {
    invalid(what, `must match ${STREAM.source} (no dots, spaces, wildcards or slashes)`);
  }
  return value;
}

/** The default stream for a Tally schema: `TALLY_<schema>`. */
export function defaultStreamName(schema: string): string {
  return streamName(`TALLY_${subjectToken(schema, 'schema')}`);
}

/** Subjects of one Tally schema's stream: `<prefix>.<schema>.log.>` and `<prefix>.<schema>.commands.>`. */
export function streamSubjects(prefix: string, schema: string, sources: readonly FeedSource[]): string[] {
  const base = `${subjectToken(prefix, 'prefix')}.${subjectToken(schema, 'schema')}`;
  return sources.map((s) => `${base}.${SOURCE_SEGMENT[s]}.>`);
}

/**
 * The subject an entry is published on: `<prefix>.<schema>.log.<entity_type>` or
 * `<prefix>.<schema>.commands.<command_type>`.
 *
 * @example
 * subjectFor('tally', 'app', entry); // 'tally.app.log.resource'
 */
export function subjectFor(prefix: string, schema: string, e: FeedEntry): string {
  const type = e.source === 'log' ? e.entry.entity_type : e.entry.command_type;
  if (typeof type !== 'string' || !TYPE_PATH.test(type)) {
    invalid(`${e.source} entry ${e.id} type`, `must match ${TYPE_PATH.source} to become a subject`);
  }
  return `${prefix}.${schema}.${SOURCE_SEGMENT[e.source]}.${type}`;
}

/**
 * The JetStream message id of an entry: stable across redeliveries (source + row id), so the broker
 * drops a second publish of the same entry inside the stream's duplicate window.
 *
 * @example
 * messageId({ source: 'log', id: '42', ... }); // 'log-42'
 */
export function messageId(e: Pick<FeedEntry, 'source' | 'id'>): string {
  return `${e.source}-${e.id}`;
}

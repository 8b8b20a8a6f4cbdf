import { resolve } from 'node:path';
import type { CheckpointSink } from '../evidence/sink.js';
import { fileCheckpointSink } from '../evidence/sink-file.js';
import { webhookCheckpointSink } from '../evidence/sink-webhook.js';
import { UsageError } from './errors.js';

// `--sink SPEC` for `tally worker --seal-every` and `tally verify`: where checkpoints are copied to and
// read back from. The NATS sink is loaded only when named (`nats` is an optional peer dependency).

/** The forms a `--sink` takes, for help texts. */
export const SINK_FORMS =
  'file:PATH, nats:SUBJECT (servers from --nats or NATS_URL) or an http(s):// webhook URL';

/**
 * A checkpoint sink from its command-line form: `file:PATH`, `nats:SUBJECT`, `http(s)://...`.
 *
 * @example
 * const sink = await sinkFromSpec('nats:tally.checkpoints.orders', { cwd, servers: '127.0.0.1:4222', command: 'verify' });
 */
export async function sinkFromSpec(
  spec: string,
  o: { cwd: string; servers: string; command: string },
): Promise<CheckpointSink> {
  if (spec.startsWith('file:') && spec.length > 5) return fileCheckpointSink(resolve(o.cwd, spec.slice(5)));
  if (spec.startsWith('nats:') && spec.length > 5) {
    const { natsCheckpointSink } = await import('../feed/nats/checkpoint-sink.js');
    return natsCheckpointSink({ servers: o.servers, subject: spec.slice(5) });
  }
  if (/^https?:\/\//.test(spec)) return webhookCheckpointSink({ url: spec });
  throw new UsageError(`tally ${o.command}: --sink must be ${SINK_FORMS}`);
}

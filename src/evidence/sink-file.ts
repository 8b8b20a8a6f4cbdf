import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { TallyError } from '../errors.js';
import { checkpointFileEntry, readCheckpointFile } from './checkpoint-file.js';
import type { CheckpointSink } from './sink.js';

/**
 * The append-only file sink: each checkpoint appended as `tally seal --out` writes it (checkpoint-file.ts),
 * unless it is already the file's last note. Put the file where the database's writers cannot rewrite it
 * (a WORM mount, another host's share, `chattr +a`).
 *
 * @example
 * const sink = fileCheckpointSink('/mnt/worm/checkpoints.txt');
 * await sink.publish(note);
 */
export function fileCheckpointSink(path: string): CheckpointSink {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new TallyError('INVALID_SINK_OPTIONS', 'a checkpoint file sink needs a path');
  }
  const read = (): string[] => (existsSync(path) ? readCheckpointFile(readFileSync(path, 'utf8')) : []);
  return {
    name: `file:${path}`,
    async publish(note) {
      // Read back before appending: a note appended by a run whose acknowledgement was lost is not repeated.
      if (read().at(-1) === note) return;
      try {
        appendFileSync(path, checkpointFileEntry(note));
      } catch (err) {
        throw new TallyError('SINK_TARGET_UNAVAILABLE', `checkpoint file ${path} cannot be appended to`, {
          cause: err,
        });
      }
    },
    async latest() {
      return read().at(-1) ?? null;
    },
  };
}

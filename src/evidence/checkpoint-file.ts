import { TallyError } from '../errors.js';

/**
 * An append-only file of signed checkpoints, the first external copy (docs/evidence.md): each note as
 * signed, followed by one blank line. A note holds a blank line of its own (between body and signatures),
 * so the file is read by shape: five body lines, a blank line, signature lines (`— `), a blank line.
 */

/** The text `appendFileSync` adds for one note. */
export function checkpointFileEntry(note: string): string {
  return `${note}\n`;
}

/**
 * The notes of a checkpoint file, oldest first. A file that is not a sequence of notes is INVALID_EVIDENCE
 * (it was edited, or is not a checkpoint file); a single note without the trailing blank line is accepted.
 *
 * @example
 * const latest = readCheckpointFile(readFileSync('checkpoints.txt', 'utf8')).at(-1);
 */
export function readCheckpointFile(text: string): string[] {
  const lines = text.split('\n');
  const notes: string[] = [];
  let i = 0;
  const bad = (): never => {
    throw new TallyError('INVALID_EVIDENCE', `checkpoint file: line ${i + 1} is not where a note should be`);
  };
  while (i < lines.length) {
    if (lines[i] === '' && lines.slice(i).every((l) => l === '')) break;
    const body = lines.slice(i, i + 5);
    if (body.length < 5 || body.some((l) => l === '') || lines[i + 5] !== '') bad();
    i += 6;
    const sigs: string[] = [];
    while (i < lines.length && lines[i]!.startsWith('\u2014 ')) sigs.push(lines[i++]!);
    if (sigs.length === 0) bad();
    if (i < lines.length && lines[i] !== '') bad();
    i++; // the blank line after a note
    notes.push(`${body.join('\n')}\n\n${sigs.join('\n')}\n`);
  }
  return notes;
}

import { describe, expect, it } from 'vitest';
import { checkpointFileEntry, readCheckpointFile } from '../../src/evidence/checkpoint-file.js';
import { generateSealKey, signCheckpoint, toBase64 } from '../../src/evidence/index.js';

const KEY = generateSealKey();
const note = (size: number) =>
  signCheckpoint(
    {
      origin: 'tally file-test',
      treeSize: size,
      rootHash: toBase64(new Uint8Array(32).fill(size)),
      time: '2026-12-07T09:00:00.000Z',
      previousCheckpointHash: null,
    },
    [KEY, generateSealKey()], // two signature lines, as while a key rotation overlaps
  );

describe('the append-only checkpoint file (tally seal --out)', () => {
  it('reads back every note appended, oldest first; one bare note reads too', () => {
    const notes = [note(3), note(7), note(12)];
    expect(readCheckpointFile(notes.map(checkpointFileEntry).join(''))).toEqual(notes);
    expect(readCheckpointFile(notes[0]!)).toEqual([notes[0]]);
    expect(readCheckpointFile('')).toEqual([]);
  });

  it('a file that is not a sequence of notes is INVALID_EVIDENCE, naming the line', () => {
    const text = [note(3), note(7)].map(checkpointFileEntry).join('');
    const lines = text.split('\n');
    const broken = [
      lines.filter((_, i) => i !== 7).join('\n'), // one of the first note's two signature lines gone: still a note
      lines.filter((_, i) => i !== 5).join('\n'), // the blank line inside a note gone
      lines.filter((_, i) => i !== 8).join('\n'), // the blank line between notes gone
      `${text}stray text\n`,
    ];
    expect(readCheckpointFile(broken[0]!)).toHaveLength(2);
    for (const b of broken.slice(1)) {
      expect(() => readCheckpointFile(b)).toThrow(expect.objectContaining({ code: 'INVALID_EVIDENCE' }));
    }
  });
});

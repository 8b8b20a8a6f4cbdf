/**
 * Reads the shell samples of a Markdown file and matches a sample's expected lines against what the CLI
 * printed. A sample is a fenced block whose first line starts with `$ tally`; each `$ ` line is a command,
 * the lines after it (up to the next `$ `) its output, stdout and stderr in the order printed. In expected
 * lines `...` stands for what a sample leaves out: alone on a line, any number of lines; inside a line, any
 * text (times, durations).
 */
export interface Sample {
  /** 1-based line of the fence in the file, for messages. */
  readonly line: number;
  readonly steps: readonly { readonly command: string; readonly expected: readonly string[] }[];
}

/** Every fenced block of a Markdown text, with the line its fence opens on. */
export function fencedBlocks(markdown: string): { line: number; info: string; body: string[] }[] {
  const lines = markdown.split('\n');
  const blocks: { line: number; info: string; body: string[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') body.push(lines[j++]!);
    blocks.push({ line: i + 1, info: open[1]!.trim(), body });
    i = j;
  }
  return blocks;
}

/** The shell samples of a Markdown text. */
export function shellSamples(markdown: string): Sample[] {
  return fencedBlocks(markdown)
    .filter((b) => b.body[0]?.startsWith('$ tally'))
    .map((b) => {
      const steps: { command: string; expected: string[] }[] = [];
      for (const l of b.body) {
        if (l.startsWith('$ ')) steps.push({ command: l.slice(2), expected: [] });
        else steps[steps.length - 1]!.expected.push(l);
      }
      return { line: b.line, steps };
    });
}

/** Splits a sample command into arguments: spaces separate, double or single quotes group. */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

function lineMatches(expected: string, actual: string): boolean {
  if (!expected.includes('...')) return expected === actual;
  const parts = expected.split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(actual);
}

/**
 * Whether the actual lines are what the expected lines say, `...` lines standing for any number of lines.
 *
 * @example
 * linesMatch(['a', '...', 'd'], ['a', 'b', 'c', 'd']); // true
 */
export function linesMatch(expected: readonly string[], actual: readonly string[]): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === expected.length) r = j === actual.length;
    else if (expected[i]!.trim() === '...') r = go(i + 1, j) || (j < actual.length && go(i, j + 1));
    else r = j < actual.length && lineMatches(expected[i]!, actual[j]!) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

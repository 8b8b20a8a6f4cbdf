import { readFileSync } from 'node:fs';

/** What a fence's info string may say after `ts` / `typescript` (see docs/decisions/0110-docs-blocks-run.md). */
export const SERVERS = ['postgres', 'redis', 'nats'] as const;
export type Server = (typeof SERVERS)[number];

/** One ```ts block of a Markdown file. */
export interface DocBlock {
  /** The Markdown file, relative to the repository root (e.g. `docs/commands.md`). */
  readonly file: string;
  /** 1-based line in the file of the block's first code line (the line after the opening fence). */
  readonly line: number;
  /** The block's code, its fence's indentation removed. */
  readonly code: string;
  /** `fragment`: type-checked only, never run. */
  readonly fragment: boolean;
  /** `given=a,b`: names the block assumes: a fragment any of DocGivens (givens.ts, types only), a block
   * that runs those of RunGivens (setup.ts, made for the program). */
  readonly given: readonly string[];
  /** `standalone`: a program of its own (it sees no other block's names). */
  readonly standalone: boolean;
  /** `server=postgres[,redis,nats]`: standalone, run only where those servers answer. */
  readonly servers: readonly Server[];
}

const OPEN = /^( {0,3})(`{3,}|~{3,})\s*([^`]*)$/;

/**
 * Every ```ts / ```typescript block of a Markdown text, in order. An unknown word in the info string is an
 * error (a typo must not turn a checked block into an unchecked one).
 */
export function extractBlocks(file: string, text: string): DocBlock[] {
  const lines = text.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = OPEN.exec(lines[i] ?? '');
    if (!open) continue;
    const [, indent = '', fence = '', info = ''] = open;
    const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    let end = i + 1;
    while (end < lines.length && !close.test(lines[end] ?? '')) end++;
    const words = info.trim().split(/\s+/).filter(Boolean);
    const lang = words[0]?.toLowerCase();
    if (lang === 'ts' || lang === 'typescript') {
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()))
        .join('\n');
      blocks.push({ file, line: i + 2, code, ...attributes(file, i + 1, words.slice(1)) });
    }
    i = end;
  }
  return blocks;
}

function attributes(file: string, line: number, words: string[]) {
  let fragment = false;
  let standalone = false;
  let given: string[] = [];
  let servers: Server[] = [];
  for (const w of words) {
    const [name, value] = w.split('=', 2);
    if (name === 'fragment' && value === undefined) fragment = true;
    else if (name === 'standalone' && value === undefined) standalone = true;
    else if (name === 'given' && value) given = value.split(',');
    else if (name === 'server' && value) {
      servers = value.split(',') as Server[];
      standalone = true;
      for (const s of servers) {
        if (!SERVERS.includes(s)) throw new Error(`${file}:${line}: unknown server "${s}" in the fence`);
      }
    } else {
      throw new Error(
        `${file}:${line}: unknown fence attribute "${w}" (fragment, given=, standalone, server=)`,
      );
    }
  }
  if (fragment && standalone)
    throw new Error(`${file}:${line}: a fragment never runs: drop standalone/server=`);
  return { fragment, given, standalone, servers };
}

/** The blocks of a file on disk; `file` is the name reported, `path` where to read it. */
export function blocksOf(file: string, path: string): DocBlock[] {
  return extractBlocks(file, readFileSync(path, 'utf8'));
}

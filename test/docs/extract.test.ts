// The docs test's own parts (no database): which blocks are found, what a fence says, how a file becomes a
// program. blocks.test.ts runs them on the real docs.
import { describe, expect, it } from 'vitest';
import { extractBlocks } from './support/extract.js';
import { hoistImports, programsOf, statementLines } from './support/generate.js';

const md = [
  '# Title', // 1
  '', // 2
  '```ts', // 3
  "import { a } from 'x';", // 4
  'const one = a();', // 5
  '```', // 6
  '', // 7
  '```sh', // 8
  'npm test', // 9
  '```', // 10
  '', // 11
  '- a list item', // 12
  '  ```typescript fragment given=pool,req', // 13
  "  import { a, b as c } from 'x';", // 14
  '  await pool.query(req.id);', // 15
  '  ```', // 16
  '', // 17
  '```ts server=postgres,nats', // 18
  'await fetch(process.env.DATABASE_URL!);', // 19
  '```', // 20
  '', // 21
  '````ts standalone', // 22
  '```', // 23
  'const inner = 1;', // 24
  '````', // 25
].join('\n');

describe('extractBlocks', () => {
  const blocks = extractBlocks('doc.md', md);

  it('finds ts and typescript blocks, with the line of their first code line, and nothing else', () => {
    expect(blocks.map((b) => b.line)).toEqual([4, 14, 19, 23]);
    expect(blocks[0]?.code).toBe("import { a } from 'x';\nconst one = a();");
  });

  it('removes the fence indentation of a block inside a list', () => {
    expect(blocks[1]?.code).toBe("import { a, b as c } from 'x';\nawait pool.query(req.id);");
  });

  it('reads fragment, given=, standalone and server= from the info string', () => {
    expect(blocks.map((b) => [b.fragment, b.given, b.standalone, b.servers])).toEqual([
      [false, [], false, []],
      [true, ['pool', 'req'], false, []],
      [false, [], true, ['postgres', 'nats']],
      [false, [], true, []],
    ]);
  });

  it('a longer fence holds a shorter one', () => {
    expect(blocks[3]?.code).toBe('```\nconst inner = 1;');
  });

  it('refuses a word it does not know, naming file and line', () => {
    expect(() => extractBlocks('doc.md', '\n```ts fragmnet\nx\n```\n')).toThrow(
      'doc.md:2: unknown fence attribute "fragmnet"',
    );
    expect(() => extractBlocks('doc.md', '```ts server=mysql\nx\n```\n')).toThrow('unknown server "mysql"');
    expect(() => extractBlocks('doc.md', '```ts fragment standalone\nx\n```\n')).toThrow(
      'a fragment never runs',
    );
  });
});

describe('programsOf', () => {
  const blocks = extractBlocks('doc.md', md);
  const programs = programsOf('doc.md', blocks, '/support');

  it('makes one program of the shared blocks and one per standalone block', () => {
    expect(programs.map((p) => [p.name, p.title, p.runs, p.servers])).toEqual([
      ['doc_md.ts', 'doc.md', true, []],
      ['doc_md_L19.ts', 'doc.md:19', true, ['postgres', 'nats']],
      ['doc_md_L23.ts', 'doc.md:23', true, []],
    ]);
  });

  it('hoists imports once per binding and maps every line back to the docs', () => {
    const p = programs[0];
    if (!p) throw new Error('no program');
    const lines = p.text.split('\n');
    expect(lines.filter((l) => l.startsWith('import {'))).toEqual([
      "import { a } from 'x';",
      "import { b as c } from 'x';",
    ]);
    const at = (text: string) => p.origin[lines.indexOf(text)];
    expect(at("import { b as c } from 'x';")).toEqual({ file: 'doc.md', line: 14 });
    expect(at('const one = a();')).toEqual({ file: 'doc.md', line: 5 });
    expect(at('await pool.query(req.id);')).toEqual({ file: 'doc.md', line: 15 });
  });

  it('puts a fragment in a function that is never called, with its givens as typed parameters', () => {
    const text = programs[0]?.text ?? '';
    expect(text).toContain("async function __fragment_L14({ pool, req }: Pick<__Givens, 'pool' | 'req'>) {");
    expect(text.split('__fragment_L14(').length).toBe(2); // declared, never called
  });
});

describe('hoistImports / statementLines', () => {
  it('blanks imports without moving the lines after them', () => {
    const { code, hoisted } = hoistImports(
      "import pg from 'pg';\nimport * as n from 'n';\nimport 's';\nx();",
    );
    expect(code).toBe('\n\n\nx();');
    expect(hoisted.map((h) => h.text)).toEqual([
      "import pg from 'pg';",
      "import * as n from 'n';",
      "import 's';",
    ]);
  });

  it('marks the lines that start a top-level statement, not those inside one', () => {
    expect([...statementLines('a();\nawait b({\n  c: 1,\n}); d();\ne();')]).toEqual([0, 1, 4]);
  });
});

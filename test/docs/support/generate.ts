import ts from 'typescript';
import type { DocBlock, Server } from './extract.js';

/** Where a generated line came from: a Markdown file and line, or null for lines the generator adds. */
export type Origin = { readonly file: string; readonly line: number } | null;

/** A generated TypeScript module: a Markdown file's blocks, or one standalone block on its own. */
export interface DocProgram {
  /** The generated file's name (in the generated directory). */
  readonly name: string;
  /** What a failure names: `README.md`, or `docs/relay.md:16` for a standalone block. */
  readonly title: string;
  readonly text: string;
  /** origin[i] is where generated line i + 1 came from. */
  readonly origin: readonly Origin[];
  readonly blocks: readonly DocBlock[];
  /** Whether anything in it runs (a program of fragments only is type-checked only). */
  readonly runs: boolean;
  /** The servers it needs to run. */
  readonly servers: readonly Server[];
}

/** The global the generated code sets before each block; the runner reports it when the program fails. */
export const MARKER = '__tallyDocBlock';
/** The global the generated code sets before each top-level statement of a block: its docs line. */
export const LINE_MARKER = '__tallyDocLine';
/** What the generated code prints before each block and statement (a program killed for taking too long says no more). */
export const STARTED = 'DOCS-STARTED';

function marker(global: string, where: string): string {
  return `(globalThis as any).${global} = ${JSON.stringify(where)}; process.stdout.write(${JSON.stringify(`\n${STARTED} ${where}\n`)});`;
}

/** The 0-based lines on which a top-level statement of the code starts (first on its line). */
export function statementLines(code: string): Set<number> {
  const sf = ts.createSourceFile('block.ts', code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const lines = code.split('\n');
  const out = new Set<number>();
  for (const st of sf.statements) {
    const { line, character } = sf.getLineAndCharacterOfPosition(st.getStart(sf));
    if ((lines[line] ?? '').slice(0, character).trim() === '') out.add(line);
  }
  return out;
}

/**
 * A file's programs: its blocks without `server=` in order as one module (runnable blocks at top level, so
 * later blocks see earlier names; fragments inside a function that is never called), and each standalone
 * (or `server=`) block as a module of its own. Imports are hoisted to the top, one binding per line, duplicates dropped.
 * `support` is the import path of test/docs/support (givens.ts, setup.ts) from the generated directory.
 */
export function programsOf(file: string, blocks: readonly DocBlock[], support: string): DocProgram[] {
  const base = file.replace(/[^A-Za-z0-9]+/g, '_');
  const programs: DocProgram[] = [];
  const shared = blocks.filter((b) => !b.standalone);
  if (shared.length > 0) programs.push(build(`${base}.ts`, file, shared, [], support));
  for (const b of blocks.filter((x) => x.standalone)) {
    programs.push(build(`${base}_L${b.line}.ts`, `${file}:${b.line}`, [b], b.servers, support));
  }
  return programs;
}

function build(
  name: string,
  title: string,
  blocks: readonly DocBlock[],
  servers: readonly Server[],
  support: string,
): DocProgram {
  const given = new Set<string>(); // names a running block's given= declared at top level already
  const imports: string[] = [];
  const importOrigin: Origin[] = [];
  const body: string[] = [];
  const bodyOrigin: Origin[] = [];
  const add = (line: string, origin: Origin) => {
    body.push(line);
    bodyOrigin.push(origin);
  };
  for (const b of blocks) {
    const { code, hoisted } = hoistImports(b.code);
    for (const h of hoisted) {
      if (imports.includes(h.text)) continue;
      imports.push(h.text);
      importOrigin.push({ file: b.file, line: b.line + h.line });
    }
    const at = { file: b.file, line: b.line - 1 }; // the opening fence
    if (b.fragment) {
      const names = b.given.map((g) => `'${g}'`).join(' | ') || 'never';
      add(`async function __fragment_L${b.line}({ ${b.given.join(', ')} }: Pick<__Givens, ${names}>) {`, at);
      add('{', at);
    } else {
      const fresh = b.given.filter((g) => !given.has(g));
      for (const g of fresh) given.add(g);
      if (fresh.length > 0) {
        const args = fresh.map((g) => `'${g}'`).join(', ');
        add(`const { ${fresh.join(', ')} } = await __docGivens(${args});`, at);
      }
      add(marker(MARKER, `${b.file}:${b.line}`), at);
    }
    // Before each top-level statement of a block that runs: which docs line is running (async stacks
    // often lose the program's own frame, e.g. behind PGlite's transaction queue).
    const starts = b.fragment ? new Set<number>() : statementLines(code);
    code.split('\n').forEach((l, i) => {
      const origin = { file: b.file, line: b.line + i };
      if (starts.has(i)) add(marker(LINE_MARKER, `${origin.file}:${origin.line}`), origin);
      add(l, origin);
    });
    if (b.fragment) {
      add('}', at);
      add('}', at);
    }
  }
  const head = [`// Generated from ${title} by test/docs: edit the Markdown, not this file.`];
  if (blocks.some((b) => b.fragment))
    head.push(`import type { DocGivens as __Givens } from '${support}/givens.js';`);
  if (blocks.some((b) => !b.fragment && b.given.length > 0)) {
    head.push(`import { docGivens as __docGivens } from '${support}/setup.js';`);
  }
  const lines = [...head, ...imports, ...body, 'export {};'];
  const origin: Origin[] = [...head.map(() => null), ...importOrigin, ...bodyOrigin, null];
  return {
    name,
    title,
    text: `${lines.join('\n')}\n`,
    origin,
    blocks,
    runs: blocks.some((b) => !b.fragment),
    servers,
  };
}

/** A block's import declarations, one binding per line, and its code with them blanked (lines kept). */
export function hoistImports(code: string): { code: string; hoisted: { text: string; line: number }[] } {
  const sf = ts.createSourceFile('block.ts', code, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const hoisted: { text: string; line: number }[] = [];
  let out = code;
  // From the end, so earlier positions stay valid while blanking.
  const decls = sf.statements.filter(ts.isImportDeclaration).reverse();
  for (const d of decls) {
    const line = sf.getLineAndCharacterOfPosition(d.getStart(sf)).line;
    const from = d.moduleSpecifier.getText(sf);
    const clause = d.importClause;
    const texts: string[] = [];
    if (!clause) texts.push(`import ${from};`);
    else {
      const type = clause.isTypeOnly ? 'type ' : '';
      if (clause.name) texts.push(`import ${type}${clause.name.text} from ${from};`);
      const nb = clause.namedBindings;
      if (nb && ts.isNamespaceImport(nb)) texts.push(`import ${type}* as ${nb.name.text} from ${from};`);
      if (nb && ts.isNamedImports(nb)) {
        for (const el of nb.elements) texts.push(`import ${type}{ ${el.getText(sf)} } from ${from};`);
      }
    }
    hoisted.unshift(...texts.map((text) => ({ text, line })));
    const start = d.getStart(sf);
    const blank = out.slice(start, d.end).replace(/[^\n]/g, '');
    out = out.slice(0, start) + blank + out.slice(d.end);
  }
  return { code: out, hoisted };
}

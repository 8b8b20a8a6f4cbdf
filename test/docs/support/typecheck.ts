import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/**
 * The repository's compiler options (tsconfig.json: strict, noUncheckedIndexedAccess, NodeNext), with every
 * subpath the package exports ('tally', 'tally/postgres', ...) mapped to its source file under src/.
 */
export function docCompilerOptions(root: string): ts.CompilerOptions {
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  return {
    ...parsed.options,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    rootDir: undefined,
    outDir: undefined,
    paths: packagePaths(root),
  };
}

/** 'tally' → [<root>/src/index.ts], 'tally/postgres' → [<root>/src/db/postgres/index.ts], ... */
export function packagePaths(root: string): Record<string, string[]> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, { types?: string } | string>;
  };
  const paths: Record<string, string[]> = {};
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'string' ? target : target.types;
    if (!types?.startsWith('./dist/src/')) continue; // e.g. "./package.json"
    const name = sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`;
    paths[name] = [join(root, types.slice('./dist/'.length).replace(/\.d\.ts$/, '.ts'))];
  }
  return paths;
}

export interface DocDiagnostic {
  /** The generated file it is in. */
  readonly fileName: string;
  /** 1-based line and column in the generated file. */
  readonly line: number;
  readonly column: number;
  readonly code: number;
  readonly message: string;
}

/** Syntactic and semantic errors of the given files, type-checked as one program. */
export function typecheck(root: string, files: readonly string[]): DocDiagnostic[] {
  const program = ts.createProgram({ rootNames: [...files], options: docCompilerOptions(root) });
  const out: DocDiagnostic[] = [];
  for (const f of files) {
    const sf = program.getSourceFile(f);
    if (!sf) throw new Error(`the TypeScript program did not load ${f}`);
    const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    for (const d of diags) {
      const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
      out.push({
        fileName: f,
        line: (pos?.line ?? 0) + 1,
        column: (pos?.character ?? 0) + 1,
        code: d.code,
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
      });
    }
  }
  return out;
}

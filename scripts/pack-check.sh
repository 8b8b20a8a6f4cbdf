#!/usr/bin/env bash
# Checks the package as a user gets it (issue 14): `npm pack` (prepack builds), the tarball installed by npm
# into an empty project (and unpacked into the others, beside their peers), every subpath of package.json "exports" imported from ESM under Node and type-checked
# by TypeScript with moduleResolution node16 and bundler, each in a project holding only the peers that
# subpath's built files import (read from the built import graph, so a subpath that starts importing a
# new library needs it listed nowhere else), and a smoke test per subpath; then the same subpaths from a
# CommonJS project (check_cjs below: a dynamic import() under module node16, a static import compiled to
# require() under module node20, both type-checked and run). Peers install from the npm
# registry at the versions this checkout tests with. Exits non-zero on any failure, naming the subpath.
#
#   scripts/pack-check.sh            # an export whose built entry file is missing is reported, not failed
#   scripts/pack-check.sh --strict   # ... and fails
#   KEEP=1 scripts/pack-check.sh     # keeps the temporary projects for a look
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STRICT=0
[[ "${1:-}" == "--strict" ]] && STRICT=1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tally-pack-check.XXXXXX")"
[[ "${KEEP:-}" == "1" ]] || trap 'rm -rf "$WORK"' EXIT
START=$SECONDS
TSC="$ROOT/node_modules/.bin/tsc"
NPM_FLAGS=(--no-audit --no-fund --prefer-offline --loglevel=error --ignore-scripts)

say() { printf 'pack-check: %s\n' "$*"; }
die() {
  printf 'pack-check: FAIL %s\n' "$*" >&2
  exit 1
}

cd "$ROOT"
NAME="$(node -p "require('./package.json').name")"

# 1. The name: free on the registry (404), or ours already.
say "npm view $NAME (registry $(npm config get registry)):"
if VIEW="$(npm view "$NAME" name version 2>&1)"; then
  printf '  %s\n' "$VIEW"
  say "WARNING: '$NAME' exists on the registry: publishing under it needs its owners (or a scoped name)"
else
  printf '  %s\n' "$(grep -m1 -E '404|ERR' <<<"$VIEW" || echo "$VIEW" | head -1)"
  grep -q 'E404\|404' <<<"$VIEW" && say "'$NAME' is free on the registry (404)" ||
    die "npm view $NAME failed for another reason than 404 (offline?)"
fi

# 2. Pack (prepack: clean dist/, build). PACK_CHECK_PREBUILT=1: dist/ was just built by the caller (CI runs
# the tests beside this script, and they read dist/: a prepack emptying it under them would fail them).
if [[ "${PACK_CHECK_PREBUILT:-}" == 1 ]]; then
  [[ -f "$ROOT/dist/src/index.js" ]] || die "PACK_CHECK_PREBUILT=1 but dist/ is not built (npm run build)"
  say "npm pack --ignore-scripts (dist/ built by the caller) ..."
  TARBALL="$WORK/$(npm pack --silent --ignore-scripts --pack-destination "$WORK" | tail -1)"
else
  say "npm pack ..."
  TARBALL="$WORK/$(npm pack --silent --pack-destination "$WORK" | tail -1)"
fi
[[ -f "$TARBALL" ]] || die "npm pack made no tarball"
say "packed $(basename "$TARBALL") ($(du -k "$TARBALL" | cut -f1) kB) in $((SECONDS - START)) s"
mkdir -p "$WORK/pkg" && tar -xzf "$TARBALL" -C "$WORK/pkg"

# 3. The plan: each export's entry files, the libraries its built graph imports (with the version this
#    checkout tests), grouped into one project per distinct set of peers.
cat >"$WORK/plan.mjs" <<'EOF'
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
const [pkgDir, root] = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const req = createRequire(join(root, 'package.json'));
const builtin = new Set(builtinModules);
// Libraries whose types live in @types: the type check needs those too.
const atTypes = { pg: '@types/pg', express: '@types/express' };
// Libraries a subpath loads at first use (not at import) that its smoke test uses.
const smokePeers = { './pglite': ['@electric-sql/pglite'] };
const versionOf = (name) => {
  for (const dir of [join(root, 'node_modules', name)]) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) return JSON.parse(readFileSync(p, 'utf8')).version;
  }
  return req(`${name}/package.json`).version;
};
const bareName = (s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]);
// Static imports only: a library loaded lazily (import() at first use) is not needed to import the subpath.
const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)\.[A-Za-z]/g;
function graph(entry, typesOnly) {
  const seen = new Set();
  const libs = new Set();
  const stack = [entry];
  while (stack.length) {
    const file = stack.pop();
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith('.')) {
        let next = resolve(dirname(file), spec);
        if (typesOnly) next = next.replace(/\.js$/, '.d.ts');
        stack.push(next);
      } else if (!spec.startsWith('node:') && !builtin.has(spec)) libs.add(bareName(spec));
    }
  }
  return libs;
}
// The versions installed must be ones package.json's peerDependencies accept. npm checked this itself when
// every project installed the tarball; now only one does (see the installs below), so it is checked here.
let semver;
try {
  semver = req('semver');
} catch {
  throw new Error('pack-check: the semver module is not in node_modules (it checks peer versions against peerDependencies)');
}
const outOfRange = [];
const subpaths = [];
const missing = [];
for (const [key, target] of Object.entries(pkg.exports)) {
  const spec = key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`;
  if (typeof target === 'string') {
    subpaths.push({ key, spec, json: true, peers: [] });
    continue;
  }
  const js = join(pkgDir, target.default);
  const dts = join(pkgDir, target.types);
  if (!existsSync(js) || !existsSync(dts)) {
    missing.push({ key, spec, file: existsSync(js) ? target.types : target.default });
    continue;
  }
  const runtime = graph(js, false);
  const types = graph(dts, true);
  const peers = new Set([...runtime, ...types]);
  for (const p of smokePeers[key] ?? []) peers.add(p);
  for (const p of [...peers]) if (atTypes[p]) peers.add(atTypes[p]);
  for (const p of peers) {
    const range = pkg.peerDependencies?.[p];
    if (range && !semver.satisfies(versionOf(p), range)) outOfRange.push(`${p}@${versionOf(p)} (peerDependencies: ${range})`);
  }
  subpaths.push({ key, spec, json: false, peers: [...peers].sort().map((p) => `${p}@${versionOf(p)}`) });
}
if (outOfRange.length) throw new Error(`pack-check: tested peer versions outside peerDependencies: ${[...new Set(outOfRange)].join(', ')}`);
console.log(JSON.stringify({ name: pkg.name, subpaths, missing }));
EOF
PLAN="$(node "$WORK/plan.mjs" "$WORK/pkg/package" "$ROOT")"
echo "$PLAN" >"$WORK/plan.json"

MISSING="$(node -e 'const p=require(process.argv[1]); for (const m of p.missing) console.log(`${m.key} (${m.file})`)' "$WORK/plan.json")"
if [[ -n "$MISSING" ]]; then
  while read -r line; do say "not built: missing entry file for ${line}"; done <<<"$MISSING"
  [[ $STRICT == 1 ]] && die "missing entry files (--strict)"
fi

# The projects: one per distinct peer set; the subpaths that share it are checked together.
GROUPS_JSON="$(node -e '
  const p = require(process.argv[1]); const groups = new Map();
  for (const s of p.subpaths) { const k = s.peers.join(" "); if (!groups.has(k)) groups.set(k, []); groups.get(k).push(s); }
  console.log(JSON.stringify([...groups].map(([peers, subs]) => ({ peers: peers ? peers.split(" ") : [], subs }))));
' "$WORK/plan.json")"
NGROUPS="$(node -e 'console.log(JSON.parse(process.argv[1]).length)' "$GROUPS_JSON")"
TYPES_NODE="@types/node@$(node -p "require('$ROOT/node_modules/@types/node/package.json').version")"
TS_VERSION="$("$TSC" -v)"
BUILTINS="$(node -p "require('node:module').builtinModules.join(' ')")"
FAILED=()

# The per-project checks, written once: ESM import + smoke, and the type check.
cat >"$WORK/smoke.mjs" <<'EOF'
// Imports each subpath from ESM and runs its smoke test; prints `ok <subpath>` or `FAIL <subpath>: why`.
const subs = JSON.parse(process.argv[2]);
let bad = 0;
for (const s of subs) {
  try {
    if (s.json) {
      const m = await import(s.spec, { with: { type: 'json' } });
      if (typeof m.default.name !== 'string') throw new Error('package.json has no name');
    } else {
      const m = await import(s.spec);
      const names = Object.keys(m);
      if (names.length === 0) throw new Error('no exports');
      for (const n of names) if (m[n] === undefined) throw new Error(`export ${n} is undefined`);
      // An ORM adapter: handed something that is not a transaction, it refuses with its stable code.
      const orm = ['./drizzle', './kysely', './knex', './typeorm', './prisma'].includes(s.key);
      for (const n of names.filter((x) => orm && /^from[A-Z]/.test(x) && typeof m[x] === 'function')) {
        let code;
        try {
          m[n]({});
        } catch (e) {
          code = e?.code;
        }
        if (code !== 'INVALID_CONFIG') throw new Error(`${n}({}) did not refuse with INVALID_CONFIG (got ${code})`);
      }
      if (s.key === '.') {
        if (typeof m.createTally !== 'function') throw new Error('createTally is not a function');
        const { TallyError } = m;
        if (!(new TallyError('DB_ERROR', 'x') instanceof Error)) throw new Error('TallyError is not an Error');
      }
      if (s.key === './sim') {
        const names = Object.keys(m.SCENARIOS);
        if (typeof m.simulate !== 'function' || !names.includes('points-redemption'))
          throw new Error(`sim exports simulate and the points-redemption scenario (got ${names.join(', ')})`);
      }
      if (s.key === './pglite') {
        const db = await m.pglite();
        const [row] = await db.query({ text: 'SELECT 1 + 1 AS two' });
        await db.close();
        if (row.two !== 2) throw new Error(`pglite answered ${JSON.stringify(row)}`);
      }
    }
    console.log(`ok ${s.key}`);
  } catch (e) {
    bad++;
    console.log(`FAIL ${s.key}: ${e?.message ?? e}`);
  }
}
process.exit(bad ? 1 : 0);
EOF

# A project's four type checks (ESM node16 and bundler, CommonJS node16 and node20) in one process that
# parses the shared declaration files (lib, @types/node, this package's) once per way of parsing them,
# instead of four tsc processes that each parse them all: the same options, diagnostics and exit status.
cat >"$WORK/tsc-many.cjs" <<'EOF'
// Type-checks (and, where the config emits, compiles) several tsconfig projects in one process, as
// `tsc -p CONFIG` would one by one: the same options from the same files, the same diagnostics text, an exit
// status per project. Declaration files (the lib, @types/node, the package's own) are parsed once for all
// the projects whose options parse and bind them the same way, instead of once per tsc process.
// Usage: node tsc-many.cjs TYPESCRIPT_DIR CONFIG[:trace] ...; for each CONFIG (…/tsconfig.NAME.json) it
// writes …/tsc.NAME.log (or, with :trace, the resolution trace and the diagnostics to …/tsc.NAME.trace) and
// the exit status to …/tsc.NAME.rc.
const { writeFileSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');
const ts = require(process.argv[2]);
const shared = new Map();
const sameParse = (o) =>
  JSON.stringify([
    o.module >= ts.ModuleKind.Node16 && o.module <= ts.ModuleKind.NodeNext ? 'node' : o.module,
    o.moduleDetection,
    o.strict,
    o.alwaysStrict,
    o.jsx,
  ]);
for (const arg of process.argv.slice(3)) {
  const [config, mode] = arg.split(':');
  const dir = dirname(config);
  const name = basename(config).replace(/^tsconfig\.(.*)\.json$/, '$1');
  const out = [];
  let status = 0;
  try {
    const parsed = ts.getParsedCommandLineOfConfigFile(config, { traceResolution: mode === 'trace' }, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => out.push(ts.formatDiagnostics([d], formatHost(dir))),
    });
    if (!parsed) throw new Error(`cannot read ${config}`);
    const host = ts.createCompilerHost(parsed.options);
    host.getCurrentDirectory = () => dir;
    host.trace = (s) => out.push(`${s}\n`);
    const own = host.getSourceFile;
    const key = sameParse(parsed.options);
    host.getSourceFile = (file, lang, onError, create) => {
      if (!file.endsWith('.d.ts')) return own(file, lang, onError, create);
      const k = `${file}|${key}|${JSON.stringify(lang)}`;
      if (!shared.has(k)) shared.set(k, own(file, lang, onError, create));
      return shared.get(k);
    };
    const program = ts.createProgram({
      rootNames: parsed.fileNames,
      options: parsed.options,
      projectReferences: parsed.projectReferences,
      host,
      configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
    });
    const diagnostics = [...ts.getPreEmitDiagnostics(program)];
    if (!parsed.options.noEmit) diagnostics.push(...program.emit().diagnostics);
    const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (diagnostics.length) out.push(ts.formatDiagnostics(ts.sortAndDeduplicateDiagnostics(diagnostics), formatHost(dir)));
    status = errors.length ? 2 : 0;
  } catch (err) {
    out.push(`${err?.stack ?? err}\n`);
    status = 1;
  }
  writeFileSync(join(dir, `tsc.${name}.${mode === 'trace' ? 'trace' : 'log'}`), out.join(''));
  writeFileSync(join(dir, `tsc.${name}.rc`), `${status}\n`);
}

function formatHost(dir) {
  return {
    getCurrentDirectory: () => dir,
    getCanonicalFileName: (f) => f,
    getNewLine: () => '\n',
  };
}
EOF

# Installs, up to four at a time; the checks after them, one by one.
# One project (the one with no peers, else the first) installs the tarball through npm, as a user does. The
# others install their peers through npm and get the package unpacked from the same tarball into
# node_modules/ (it has no dependencies, and no peers but optional ones, so npm would add nothing else):
# npm install of the tarball reads the manifest of every optional peer and of their optional peers (about
# 90, drizzle-orm's and typescript's among them), which made each install take a minute on a loaded machine.
project() { printf '%s/project-%s' "$WORK" "$1"; }
group() { node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1])[+process.argv[2]]))' "$GROUPS_JSON" "$1"; }
field() { node -e "const g = JSON.parse(process.argv[1]); console.log($2)" "$1"; }
NPM_GROUP="$(node -e 'console.log(Math.max(0, JSON.parse(process.argv[1]).findIndex((g) => g.peers.length === 0)))' "$GROUPS_JSON")"
for ((g = 0; g < NGROUPS; g++)); do
  P="$(project "$g")"
  mkdir -p "$P"
  printf '{ "name": "pack-check-%s", "private": true, "type": "module" }\n' "$g" >"$P/package.json"
  cp "$WORK/smoke.mjs" "$P/smoke.mjs"
  PEERS="$(field "$(group "$g")" 'g.peers.join(" ")')"
  if ((g == NPM_GROUP)); then
    # shellcheck disable=SC2086
    (cd "$P" && npm install "${NPM_FLAGS[@]}" "$TARBALL" $PEERS "$TYPES_NODE" >"$P/install.log" 2>&1; echo $? >"$P/install.rc") &
  else
    # shellcheck disable=SC2086
    (cd "$P" && npm install "${NPM_FLAGS[@]}" $PEERS "$TYPES_NODE" >"$P/install.log" 2>&1 &&
      mkdir -p "node_modules/$NAME" && tar -xzf "$TARBALL" -C "node_modules/$NAME" --strip-components=1 >>"$P/install.log" 2>&1
      echo $? >"$P/install.rc") &
  fi
  while (($(jobs -rp | wc -l) >= 4)); do sleep 0.2; done
done
wait
say "installed $NGROUPS projects in $((SECONDS - START)) s since the start"

# One project's checks; its report and failures go to files, so projects run side by side.
check_project() {
  local g=$1 GROUP PEERS SUBS KEYS P FAILED=()
  GROUP="$(group "$g")"
  PEERS="$(field "$GROUP" 'g.peers.join(" ")')"
  SUBS="$(field "$GROUP" 'JSON.stringify(g.subs)')"
  KEYS="$(field "$GROUP" 'g.subs.map((s) => s.key).join(" ")')"
  P="$(project "$g")"
  say "project $g: $KEYS — peers: ${PEERS:-none}"
  if [[ "$(cat "$P/install.rc")" != 0 ]]; then
    cat "$P/install.log" >&2
    printf '%s (npm install)\n' $KEYS >"$P/failed"
    return
  fi
  # ESM import + smoke, under Node.
  if ! (cd "$P" && node smoke.mjs "$SUBS") >"$P/smoke.log" 2>&1; then
    sed 's/^/  /' "$P/smoke.log"
    while read -r k; do FAILED+=("$k (ESM import / smoke)"); done < <(grep '^FAIL' "$P/smoke.log" | sed 's/^FAIL \([^:]*\):.*/\1/')
    grep -q '^FAIL' "$P/smoke.log" || FAILED+=("$KEYS (smoke crashed)")
  else
    sed 's/^/  /' "$P/smoke.log"
  fi
  # Types: one file per subpath and resolution, so an error names its subpath. JSON modules need import
  # attributes, which module node16 does not take: package.json is type-checked under bundler only.
  (cd "$P" && node -e '
    const fs = require("node:fs");
    for (const [i, s] of JSON.parse(process.argv[1]).entries()) {
      const body = s.json
        ? `import pkg from "${s.spec}" with { type: "json" };\nexport const name: string = pkg.name;\n`
        : `import * as sub from "${s.spec}";\nexport const names: string[] = Object.keys(sub);\n`;
      if (!s.json) fs.writeFileSync(`check-node16-${i}.ts`, `// ${s.key}\n${body}`);
      fs.writeFileSync(`check-bundler-${i}.ts`, `// ${s.key}\n${body}`);
    }' "$SUBS")
  for mode in node16 bundler; do
    if [[ $mode == node16 ]]; then MOD=node16; else MOD=esnext; fi
    # skipLibCheck: a library's own declarations are its business (nats' need DOM's TextEncoder type);
    # this package's declarations are checked strictly once, below.
    cat >"$P/tsconfig.$mode.json" <<JSON
{ "compilerOptions": { "module": "$MOD", "moduleResolution": "$mode", "target": "es2022", "lib": ["es2023"],
  "types": ["node"], "strict": true, "noEmit": true, "skipLibCheck": true, "resolveJsonModule": true,
  "esModuleInterop": true }, "include": ["check-$mode-*.ts"] }
JSON
  done
  prepare_cjs "$P" "$SUBS"
  # The ESM checks with --traceResolution (tsc.MODE.trace), the CommonJS ones emitting to cjs/out.
  node "$WORK/tsc-many.cjs" "$ROOT/node_modules/typescript" "$P/tsconfig.node16.json:trace" \
    "$P/tsconfig.bundler.json:trace" "$P/cjs/tsconfig.node16.json" "$P/cjs/tsconfig.node20.json" >"$P/tsc-many.log" 2>&1 ||
    cat "$P/tsc-many.log"
  for f in "$P"/tsc.{node16,bundler}.rc "$P"/cjs/tsc.{node16,node20}.rc; do [[ -s "$f" ]] || echo 1 >"$f"; done
  for mode in node16 bundler; do
    # skipLibCheck also hides an import in this package's declarations that does not resolve (its type
    # silently becomes any): the resolution trace shows those, and each one fails the subpath.
    (cd "$P" && touch "tsc.$mode.trace"
      grep 'error TS' "tsc.$mode.trace" >"tsc.$mode.log" || true
      # Node's built-in modules are ambient declarations of @types/node: "not resolved" as files, and fine.
      awk -v ours="/node_modules/$NAME/" -v builtins="$BUILTINS" '
        BEGIN { n = split(builtins, b, " "); for (i = 1; i <= n; i++) builtin["\x27" b[i] "\x27"] = 1 }
        /^======== Resolving module / { mod = $4; from = $6 }
        /^======== Module name .* was not resolved/ && index(from, ours) && !(mod in builtin) && mod !~ /^.node:/ {
          print "unresolved " mod " in " from
        }
      ' "tsc.$mode.trace" >"tsc.$mode.unresolved"
      [[ -s "tsc.$mode.unresolved" ]] && echo 1 >"tsc.$mode.rc"; true)
  done
  for mode in node16 bundler; do
    if [[ "$(cat "$P/tsc.$mode.rc")" != 0 ]]; then
      sed 's/^/  /' "$P/tsc.$mode.log" "$P/tsc.$mode.unresolved" | head -30
      BAD="$(grep -oE "^check-$mode-[0-9]+\.ts" "$P/tsc.$mode.log" | sort -u | sed 's/.*-\([0-9]*\)\.ts/\1/' || true)"
      if [[ -z "$BAD" ]]; then
        FAILED+=("$KEYS (TypeScript $mode)")
      else
        for i in $BAD; do FAILED+=("$(node -e 'console.log(JSON.parse(process.argv[1])[+process.argv[2]].key)' "$SUBS" "$i") (TypeScript $mode)"); done
      fi
    else
      say "  types ok under moduleResolution $mode ($TS_VERSION): $KEYS"
    fi
  done
  check_cjs "$P" "$SUBS" "$KEYS"
  for f in "${FAILED[@]}"; do printf '%s\n' "$f"; done >"$P/failed"
}
# CommonJS interop (decision 0121's check, extended): a `"type": "commonjs"` project beside the ESM one,
# sharing its node_modules. What works, both type-checked and run on Node 20.19+ (checked on 20.20):
# - module/moduleResolution node16: a CJS file may not `import` this ESM-only package statically (TS1479),
#   so it loads each subpath with a dynamic `await import('tally/...')`, which TypeScript keeps as import().
# - module node20 (TypeScript 5.9; resolution node16): a static `import * as x from 'tally/...'` is allowed
#   and compiles to `require('tally/...')`, which Node 20.19+ serves from ESM (require(esm), no flag;
#   our graph has no top-level await). On Node < 20.19 only the dynamic import works.
# prepare_cjs writes the files and configs (type-checked with the ESM ones, in check_project); check_cjs
# reads the results and runs what was emitted. Runs inside check_project: appends to its FAILED.
prepare_cjs() {
  local P="$1/cjs" SUBS="$2" mode
  mkdir -p "$P"
  printf '{ "name": "pack-check-cjs", "private": true, "type": "commonjs" }\n' >"$P/package.json"
  (cd "$P" && node -e '
    const fs = require("node:fs");
    for (const [i, s] of JSON.parse(process.argv[1]).entries()) {
      if (s.json) continue;
      fs.writeFileSync(`cjs-node16-${i}.ts`, `// ${s.key}\nexport async function load(): Promise<string[]> {\n  const sub = await import("${s.spec}");\n  return Object.keys(sub);\n}\n`);
      fs.writeFileSync(`cjs-node20-${i}.ts`, `// ${s.key}\nimport * as sub from "${s.spec}";\nexport const names: string[] = Object.keys(sub);\n`);
    }' "$SUBS")
  for mode in node16 node20; do
    cat >"$P/tsconfig.$mode.json" <<JSON
{ "compilerOptions": { "module": "$mode", "moduleResolution": "node16", "target": "es2022", "lib": ["es2023"],
  "types": ["node"], "typeRoots": ["../node_modules/@types"], "strict": true, "skipLibCheck": true,
  "outDir": "out" }, "include": ["cjs-$mode-*.ts"] }
JSON
  done
}
check_cjs() {
  local P="$1/cjs" SUBS="$2" KEYS="$3" mode BAD i
  for mode in node16 node20; do
    if [[ "$(cat "$P/tsc.$mode.rc")" == 0 ]]; then
      say "  types ok from CommonJS, module $mode: $KEYS"
    else
      sed 's/^/  /' "$P/tsc.$mode.log" | head -30
      BAD="$(grep -oE "^cjs-$mode-[0-9]+\.ts" "$P/tsc.$mode.log" | sort -u | sed 's/.*-\([0-9]*\)\.ts/\1/' || true)"
      [[ -z "$BAD" ]] && FAILED+=("$KEYS (CommonJS TypeScript $mode)")
      for i in $BAD; do FAILED+=("$(node -e 'console.log(JSON.parse(process.argv[1])[+process.argv[2]].key)' "$SUBS" "$i") (CommonJS TypeScript $mode)"); done
    fi
  done
  # Run what tsc emitted (it emits despite errors): node20's require(), node16's import().
  cat >"$P/run.cjs" <<'EOF'
const subs = JSON.parse(process.argv[2]);
(async () => {
  let bad = 0;
  for (const [i, s] of subs.entries()) {
    if (s.json) continue;
    try {
      const required = require(`./out/cjs-node20-${i}.js`).names;
      const imported = await require(`./out/cjs-node16-${i}.js`).load();
      if (!required.length || !imported.length) throw new Error('no exports');
      console.log(`ok ${s.key} from CommonJS (require and import())`);
    } catch (e) {
      bad++;
      console.log(`FAIL ${s.key} from CommonJS: ${String(e?.message ?? e).split('\n')[0]}`);
    }
  }
  process.exit(bad ? 1 : 0);
})();
EOF
  if (cd "$P" && node run.cjs "$SUBS") >"$P/run.log" 2>&1; then
    sed 's/^/  /' "$P/run.log" | grep -v ExperimentalWarning || true
  else
    sed 's/^/  /' "$P/run.log"
    while read -r k; do FAILED+=("$k (CommonJS run)"); done < <(grep '^FAIL' "$P/run.log" | sed 's/^FAIL \([^ ]*\) .*/\1/')
    grep -q '^FAIL' "$P/run.log" || FAILED+=("$KEYS (CommonJS run crashed)")
  fi
}
for ((g = 0; g < NGROUPS; g++)); do
  check_project "$g" >"$(project "$g")/report" 2>&1 &
  while (($(jobs -rp | wc -l) >= 3)); do sleep 0.2; done
done
wait
for ((g = 0; g < NGROUPS; g++)); do
  P="$(project "$g")"
  cat "$P/report"
  while read -r f; do [[ -n "$f" ]] && FAILED+=("$f"); done <"$P/failed"
done

# The package's own declarations, checked strictly (skipLibCheck off) from the root export, whose graph
# the subpaths share; errors in other libraries' declarations are not ours and are left out.
P="$(project 0)"
sed 's/"skipLibCheck": true/"skipLibCheck": false/' "$P/tsconfig.node16.json" >"$P/tsconfig.strict.json"
if ! (cd "$P" && "$TSC" -p tsconfig.strict.json >tsc.strict.log 2>&1); then
  if grep -E "^(node_modules/$NAME/|check-)" "$P/tsc.strict.log" >"$P/tsc.strict.ours.log"; then
    sed 's/^/  /' "$P/tsc.strict.ours.log" | head -30
    FAILED+=("$(field "$(group 0)" 'g.subs.map((s) => s.key).join(" ")') (declaration files, skipLibCheck off)")
  fi
fi
say "  declaration files of project 0 checked with skipLibCheck off: $(grep -cE "^node_modules/$NAME/" "$P/tsc.strict.log" || true) errors in ours"

say "done in $((SECONDS - START)) s"
if ((${#FAILED[@]})); then
  for f in "${FAILED[@]}"; do printf 'pack-check: FAIL subpath %s\n' "$f" >&2; done
  exit 1
fi
say "every built subpath imports from ESM and from CommonJS, type-checks (node16, bundler; CJS node16, node20) and passes its smoke test"

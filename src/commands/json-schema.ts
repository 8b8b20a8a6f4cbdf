// A small JSON Schema validator for command inputs: a documented subset (docs/commands.md), compiled once
// at declaration. A keyword outside the subset is refused there, never silently ignored: a schema that
// says more than is checked would let through what its author meant to refuse.

/** A JSON type name, as JSON Schema spells it (`integer`: a number with no fraction). */
export type JsonSchemaTypeName = 'null' | 'boolean' | 'object' | 'array' | 'number' | 'integer' | 'string';

/**
 * The JSON Schema subset a command's `input` may use (drafts 6 to 2020-12 agree on all of it).
 *
 * @example
 * const input = {
 *   type: 'object', required: ['user', 'qty'], additionalProperties: false,
 *   properties: { user: { type: 'string', minLength: 1 }, qty: { type: 'integer', minimum: 1, maximum: 10 } },
 * } as const satisfies JsonSchema;
 */
export interface JsonSchema {
  type?: JsonSchemaTypeName | readonly JsonSchemaTypeName[];
  properties?: { readonly [name: string]: JsonSchema | boolean };
  required?: readonly string[];
  additionalProperties?: JsonSchema | boolean;
  enum?: readonly unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  /** An ECMAScript regular expression (with the `u` flag), unanchored as JSON Schema says. */
  pattern?: string;
  items?: JsonSchema | boolean;
  minItems?: number;
  maxItems?: number;
  // Documentation only: accepted, never checked.
  $schema?: string;
  $id?: string;
  $comment?: string;
  title?: string;
  description?: string;
  examples?: readonly unknown[];
  /** A Standard Schema validator is not a JSON Schema. */
  readonly '~standard'?: never;
}

/** One failed check: where in the value, and what is wrong there (never the value itself). */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Checks a value; at most `limit` issues are collected (the first ones found). */
export type JsonValidator = (value: unknown, limit: number) => SchemaIssue[];

const DOCS_ONLY = ['$schema', '$id', '$comment', 'title', 'description', 'examples'];
const KEYWORDS = new Set([
  ...['type', 'properties', 'required', 'additionalProperties', 'enum', 'const'],
  ...['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern'],
  ...['items', 'minItems', 'maxItems'],
  ...DOCS_ONLY,
]);
const TYPES = new Set<string>(['null', 'boolean', 'object', 'array', 'number', 'integer', 'string']);
const MAX_DEPTH = 32;

type Path = PropertyKey[];
type Check = (v: unknown, path: Path, out: SchemaIssue[], limit: number) => void;

/**
 * Compiles a JSON Schema (the subset above) into a validator; `fail` makes the declaration error.
 *
 * @example
 * const check = compileJsonSchema({ type: 'integer', minimum: 1 }, (m) => new Error(m));
 * check(0, 10); // [{ path: [], message: 'must be >= 1' }]
 */
export function compileJsonSchema(schema: unknown, fail: (what: string) => Error): JsonValidator {
  if (!isPlain(schema)) throw fail('a JSON Schema must be an object');
  const check = compile(schema, '#', 0, fail);
  return (value, limit) => {
    const out: SchemaIssue[] = [];
    check(value, [], out, limit);
    return out;
  };
}

function compile(s: unknown, at: string, depth: number, fail: (what: string) => Error): Check {
  if (s === true) return () => {};
  if (s === false) return (_v, path, out, limit) => add(out, limit, path, 'is not allowed');
  if (!isPlain(s)) throw fail(`JSON Schema at ${at} must be an object or a boolean`);
  if (depth > MAX_DEPTH) throw fail(`JSON Schema nests deeper than ${MAX_DEPTH} at ${at}`);
  for (const k of Object.keys(s)) {
    if (!KEYWORDS.has(k)) {
      throw fail(
        `JSON Schema keyword ${JSON.stringify(k.slice(0, 40))} at ${at} is not supported (docs/commands.md lists the subset)`,
      );
    }
  }
  const bad = (kw: string, what: string) => fail(`JSON Schema ${kw} at ${at} ${what}`);
  const num = (kw: string): number | undefined => {
    const v = s[kw];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw bad(kw, 'must be a number');
    return v as number | undefined;
  };
  const count = (kw: string): number | undefined => {
    const v = s[kw];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0))
      throw bad(kw, 'must be a non-negative integer');
    return v as number | undefined;
  };

  let types: Set<string> | null = null;
  if (s.type !== undefined) {
    const list = Array.isArray(s.type) ? s.type : [s.type];
    if (list.length === 0 || list.some((t) => typeof t !== 'string' || !TYPES.has(t)))
      throw bad('type', `must be one or more of ${[...TYPES].join(', ')}`);
    types = new Set(list as string[]);
  }
  let choices: unknown[] | null = null;
  if (s.enum !== undefined) {
    if (!Array.isArray(s.enum) || s.enum.length === 0) throw bad('enum', 'must be a non-empty array');
    choices = s.enum.map((v) => jsonClone(v, () => bad('enum', 'must hold JSON values')));
  }
  const hasConst = 'const' in s;
  const constant = hasConst ? jsonClone(s.const, () => bad('const', 'must be a JSON value')) : undefined;

  const numbers: ((n: number) => string | null)[] = [];
  const [min, max, xmin, xmax] = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].map(num);
  if (min !== undefined) numbers.push((n) => (n >= min ? null : `must be >= ${min}`));
  if (max !== undefined) numbers.push((n) => (n <= max ? null : `must be <= ${max}`));
  if (xmin !== undefined) numbers.push((n) => (n > xmin ? null : `must be > ${xmin}`));
  if (xmax !== undefined) numbers.push((n) => (n < xmax ? null : `must be < ${xmax}`));

  const [minLength, maxLength] = ['minLength', 'maxLength'].map(count);
  let pattern: RegExp | null = null;
  if (s.pattern !== undefined) {
    try {
      if (typeof s.pattern !== 'string') throw new Error();
      pattern = new RegExp(s.pattern, 'u');
    } catch {
      throw bad('pattern', 'must be a valid regular expression');
    }
  }

  const props = new Map<string, Check>();
  if (s.properties !== undefined) {
    if (!isPlain(s.properties)) throw bad('properties', 'must be an object');
    for (const [k, sub] of Object.entries(s.properties)) {
      props.set(k, compile(sub, `${at}/properties/${pointer(k)}`, depth + 1, fail));
    }
  }
  let required: string[] = [];
  if (s.required !== undefined) {
    if (!Array.isArray(s.required) || s.required.some((r) => typeof r !== 'string'))
      throw bad('required', 'must be an array of property names');
    required = [...new Set(s.required as string[])];
  }
  const extra =
    s.additionalProperties === undefined
      ? null
      : compile(s.additionalProperties, `${at}/additionalProperties`, depth + 1, fail);

  if (Array.isArray(s.items)) throw bad('items', 'as an array (tuple form) is not supported');
  const items = s.items === undefined ? null : compile(s.items, `${at}/items`, depth + 1, fail);
  const [minItems, maxItems] = ['minItems', 'maxItems'].map(count);

  const typeText = types ? describeTypes([...types]) : '';
  const enumText = choices ? clip(choices.map((c) => JSON.stringify(c)).join(', '), 200) : '';
  const constText = hasConst ? clip(JSON.stringify(constant), 200) : '';

  return (v, path, out, limit) => {
    if (out.length >= limit) return;
    const t = jsonType(v);
    if (types && !(types.has(t) || (t === 'number' && types.has('integer') && Number.isInteger(v)))) {
      add(out, limit, path, `must be ${typeText}`);
      return;
    }
    if (choices && !choices.some((c) => jsonEqual(c, v))) add(out, limit, path, `must be one of ${enumText}`);
    if (hasConst && !jsonEqual(constant, v)) add(out, limit, path, `must be ${constText}`);
    if (t === 'number') {
      for (const c of numbers) {
        const m = c(v as number);
        if (m) add(out, limit, path, m);
      }
    } else if (t === 'string') {
      const text = v as string;
      let tooLong = false;
      if (
        minLength !== undefined &&
        (text.length < minLength || (text.length < 2 * minLength && codePoints(text) < minLength))
      )
        add(out, limit, path, `must have at least ${minLength} character${minLength === 1 ? '' : 's'}`);
      if (maxLength !== undefined && text.length > maxLength && codePoints(text) > maxLength) {
        tooLong = true;
        add(out, limit, path, `must have at most ${maxLength} character${maxLength === 1 ? '' : 's'}`);
      }
      // A string already too long is not run through the pattern (no regex work on oversized input).
      if (pattern && !tooLong && !pattern.test(text))
        add(out, limit, path, `must match the pattern ${clip(pattern.source, 100)}`);
    } else if (t === 'object') {
      const o = v as Record<string, unknown>;
      for (const r of required) {
        if (!Object.hasOwn(o, r) || o[r] === undefined) add(out, limit, [...path, r], 'is required');
      }
      for (const k of Object.keys(o)) {
        if (out.length >= limit) return;
        if (o[k] === undefined) continue; // JSON has no undefined: the stored input will not have it
        const sub = props.get(k) ?? extra;
        if (sub) sub(o[k], [...path, k], out, limit);
      }
    } else if (t === 'array') {
      const a = v as unknown[];
      if (minItems !== undefined && a.length < minItems)
        add(out, limit, path, `must have at least ${minItems} item${minItems === 1 ? '' : 's'}`);
      if (maxItems !== undefined && a.length > maxItems)
        add(out, limit, path, `must have at most ${maxItems} item${maxItems === 1 ? '' : 's'}`);
      if (items) {
        for (let i = 0; i < a.length && out.length < limit; i++) items(a[i], [...path, i], out, limit);
      }
    }
  };
}

function add(out: SchemaIssue[], limit: number, path: Path, message: string): void {
  if (out.length < limit) out.push({ path, message });
}

/** The JSON type of a value; `invalid` for what JSON cannot carry (undefined, NaN, functions, ...). */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isFinite(v) ? 'number' : 'invalid';
    case 'object':
      return Array.isArray(v) ? 'array' : 'object';
    default:
      return 'invalid';
  }
}

function describeTypes(types: string[]): string {
  const a = (t: string) => (t === 'integer' || t === 'object' || t === 'array' ? `an ${t}` : `a ${t}`);
  return types.length === 1 ? a(types[0]!) : `one of the types ${types.join(', ')}`;
}

/** Equality of JSON values (`1` and `1.0` are one number); recursion follows the schema's value. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a);
  const bo = b as Record<string, unknown>;
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return (
    ak.length === bk.length &&
    ak.every((k) => Object.hasOwn(bo, k) && jsonEqual((a as Record<string, unknown>)[k], bo[k]))
  );
}

function jsonClone(v: unknown, fail: () => Error): unknown {
  try {
    const text = JSON.stringify(v);
    if (text === undefined) throw new Error();
    return JSON.parse(text);
  } catch {
    throw fail();
  }
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pointer(key: string): string {
  return clip(key.replaceAll('~', '~0').replaceAll('/', '~1'), 40);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

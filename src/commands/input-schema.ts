// A command's input schema: resolved once at declaration, checked on every submit before anything is
// recorded. Either validator kind answers the same way: the value to record, or every failing path.
import { TallyError } from '../errors.js';
import { compileJsonSchema, type JsonSchema } from './json-schema.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/**
 * A command's `input`: any Standard Schema validator (zod, valibot, arktype, ...) — the command's input
 * type is then inferred from it — or a JSON Schema object (the subset in docs/commands.md).
 */
export type InputSchema<I = any> = StandardSchemaV1<any, I> | JsonSchema;

type Checked = { value: unknown; issues?: undefined } | { issues: readonly unknown[] };

/** The resolved check: the value to record, or the issues (a Standard Schema result, or of that shape). */
export type InputValidator = (value: unknown) => Checked | Promise<Checked>;

/** At most this many issues are listed in an error's details (`truncated: true` says there were more). */
export const MAX_LISTED_ISSUES = 50;

/**
 * Resolves a declaration's `input` (undefined: no schema). A malformed schema, or a JSON Schema keyword
 * outside the supported subset, is INVALID_COMMAND now, not a surprise on the first submit.
 *
 * @example
 * const check = resolveInputSchema('redeem', z.object({ qty: z.number().int().positive() }));
 */
export function resolveInputSchema(name: string, schema: unknown): InputValidator | null {
  if (schema === undefined) return null;
  const fail = (what: string) => new TallyError('INVALID_COMMAND', `command ${name}: input: ${what}`);
  if (
    schema !== null &&
    (typeof schema === 'object' || typeof schema === 'function') &&
    '~standard' in schema
  ) {
    const props = (schema as StandardSchemaV1)['~standard'];
    if (props?.version !== 1 || typeof props.validate !== 'function') {
      throw fail('a Standard Schema validator needs ~standard.version 1 and ~standard.validate');
    }
    return (value) => props.validate(value) as Checked | Promise<Checked>;
  }
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw fail('must be a Standard Schema validator (zod, valibot, arktype, ...) or a JSON Schema object');
  }
  const check = compileJsonSchema(schema, fail);
  return (value) => {
    const issues = check(value, MAX_LISTED_ISSUES + 1);
    return issues.length > 0 ? { issues } : { value };
  };
}

/**
 * Runs a command's input check. Returns the schema's output (defaults filled, transforms applied): that
 * is what is fingerprinted, stored and run. Anything else is INVALID_COMMAND_INPUT with every failing
 * path in `details.issues` — also when the validator itself throws (a stack overflow on hostile nesting):
 * bad input is the caller's error, never a 500.
 *
 * @example
 * const input = await checkInput('redeem', check, body); // or throws INVALID_COMMAND_INPUT
 */
export async function checkInput(name: string, validate: InputValidator, value: unknown): Promise<unknown> {
  let result: Checked;
  try {
    result = await validate(value);
  } catch (err) {
    throw refused(name, [{ message: 'could not be validated' }], err);
  }
  if (!result || typeof result !== 'object') throw refused(name, [{ message: 'could not be validated' }]);
  const { issues } = result;
  if (issues) throw refused(name, Array.isArray(issues) && issues.length > 0 ? issues : [{}]);
  return (result as { value: unknown }).value;
}

function refused(name: string, issues: readonly unknown[], cause?: unknown): TallyError {
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map((i) => {
    const issue = (i ?? {}) as { path?: unknown; message?: unknown };
    return {
      path: pathText(issue.path),
      message: typeof issue.message === 'string' && issue.message ? clip(issue.message, 300) : 'is invalid',
    };
  });
  const paths = [...new Set(listed.map((i) => i.path))];
  const where = paths.slice(0, 3).join(', ') + (paths.length > 3 ? ', …' : '');
  return new TallyError(
    'INVALID_COMMAND_INPUT',
    `command ${name}: the input does not match the command's schema at ${where} (details.issues lists every failing path)`,
    {
      details: { issues: listed, ...(issues.length > MAX_LISTED_ISSUES ? { truncated: true } : {}) },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `$`, `$.qty`, `$.items[0].name`, `$["odd key"]` — clipped to 200 characters. */
function pathText(path: unknown): string {
  let text = '$';
  if (!Array.isArray(path)) return text;
  for (const segment of path) {
    const k = segment !== null && typeof segment === 'object' && 'key' in segment ? segment.key : segment;
    if (typeof k === 'number' && Number.isInteger(k)) text += `[${k}]`;
    else if (typeof k === 'string' && IDENT.test(k)) text += `.${k}`;
    else text += `[${JSON.stringify(clip(String(k), 60))}]`;
    if (text.length > 200) return clip(text, 200);
  }
  return text;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

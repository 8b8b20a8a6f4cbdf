// A command's limits on what it is given (docs/decisions/0029): resolved once at declaration, applied on
// every submit before anything is recorded. The key parameters' limits are applied by canonicalJson
// itself; the input's depth is checked here, before any validator or JSON.stringify walks it.
import { TallyError } from '../errors.js';
import { DEFAULT_INPUT_LIMITS, type InputLimits } from './canonical.js';

/** A command's `limits` option: each field falls back to its default (64 levels, 65536 bytes). */
export interface InputLimitsOptions {
  /** Levels of nested objects and arrays in the input and in the key parameters (1-1000). Default 64. */
  depth?: number;
  /** UTF-8 bytes of the key parameters' canonical text (1-16777216, 16 MiB). Default 65536 (64 KiB). */
  size?: number;
}

/** JSON.stringify (which stores the input) recurses: beyond about 4,000 levels it overflows the stack. */
export const MAX_DEPTH_LIMIT = 1000;
/** The canonical text is hashed on every submit and stored in the command's row. */
export const MAX_SIZE_LIMIT = 16 * 1024 * 1024;

/**
 * Resolves a declaration's `limits` (undefined: the defaults).
 *
 * @example
 * resolveInputLimits('redeem', { depth: 8 }); // { depth: 8, size: 65536 }
 */
export function resolveInputLimits(name: string, options: unknown): InputLimits {
  if (options === undefined) return DEFAULT_INPUT_LIMITS;
  const bad = (what: string) => new TallyError('INVALID_COMMAND', `command ${name}: limits${what}`);
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw bad(' must be an object like { depth, size }');
  }
  for (const k of Object.keys(options)) {
    if (k !== 'depth' && k !== 'size') throw bad(` has no option ${JSON.stringify(k.slice(0, 40))}`);
  }
  const o = options as InputLimitsOptions;
  const int = (v: unknown, what: string, fallback: number, max: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw bad(`.${what} must be an integer from 1 to ${max}`);
    }
    return v;
  };
  return Object.freeze({
    depth: int(o.depth, 'depth', DEFAULT_INPUT_LIMITS.depth, MAX_DEPTH_LIMIT),
    size: int(o.size, 'size', DEFAULT_INPUT_LIMITS.size, MAX_SIZE_LIMIT),
  });
}

/**
 * Refuses an input that nests deeper than `depth` levels of objects and arrays (INVALID_COMMAND_INPUT,
 * `details.limit: 'depth'`), walking it with an explicit stack and stopping at the first level too deep.
 * A cycle is refused the same way. Dates are leaves, as JSON stores them.
 *
 * @example
 * checkInputDepth('redeem', body, 64);
 */
export function checkInputDepth(name: string, input: unknown, depth: number): void {
  if (input === null || typeof input !== 'object') return;
  // One entry per open container: its children not yet looked at.
  const stack: { readonly children: readonly unknown[]; i: number }[] = [];
  let next: unknown = input;
  for (;;) {
    if (next !== null && typeof next === 'object' && !(next instanceof Date)) {
      if (stack.length >= depth) {
        throw new TallyError(
          'INVALID_COMMAND_INPUT',
          `command ${name}: the input nests deeper than ${depth} levels (the command's limits.depth)`,
          { details: { limit: 'depth', max: depth } },
        );
      }
      stack.push({ children: Array.isArray(next) ? next : valuesOf(name, next), i: 0 });
    }
    let top = stack[stack.length - 1];
    while (top && top.i >= top.children.length) {
      stack.pop();
      top = stack[stack.length - 1];
    }
    if (!top) return;
    next = top.children[top.i++];
  }
}

/**
 * An object's values. Reading them runs its getters (and a proxy's traps): one that throws is the caller's
 * bad input, INVALID_COMMAND_INPUT like any other, never a 500 (found by test/http/fuzz.test.ts).
 */
function valuesOf(name: string, value: object): unknown[] {
  try {
    return Object.values(value);
  } catch (err) {
    throw new TallyError(
      'INVALID_COMMAND_INPUT',
      `command ${name}: the input could not be read (a getter threw)`,
      {
        cause: err,
      },
    );
  }
}

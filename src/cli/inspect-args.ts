import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

type OptionSpec = { type: 'string' | 'boolean'; short?: string };

/**
 * Parses options strictly and allows exactly one positional argument (the thing to inspect).
 *
 * @example
 * const { values, target } = parseWithTarget('inspect', ['k-1', '--json'], { json: { type: 'boolean' } });
 */
export function parseWithTarget<T extends Record<string, OptionSpec>>(
  command: string,
  args: string[],
  options: T,
): { values: Record<keyof T, string | boolean | undefined>; target: string | undefined } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`tally ${command}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `tally ${command}: one command id or key, got ${parsed.positionals.length} arguments`,
    );
  }
  return {
    values: parsed.values as unknown as Record<keyof T, string | boolean | undefined>,
    target: parsed.positionals[0],
  };
}

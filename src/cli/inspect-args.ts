import { parseWithPositionals } from './options.js';

type OptionSpec = { type: 'string' | 'boolean'; short?: string };

/**
 * Parses options strictly and allows one positional argument (the thing to inspect), then the optional
 * `DATABASE` positional (a postgres:// URL or a directory) every database command takes.
 *
 * @example
 * const { values, target } = parseWithTarget('inspect', ['k-1', '--json'], { json: { type: 'boolean' } });
 */
export function parseWithTarget<T extends Record<string, OptionSpec>>(
  command: string,
  args: string[],
  options: T,
): { values: Record<keyof T, string | boolean | undefined>; target: string | undefined } {
  const { values, positionals } = parseWithPositionals(command, args, options, 1);
  return { values, target: positionals[0] };
}

/**
 * A count and its noun, singular for exactly one: "1 finding", "2 findings", "1 log entry".
 *
 * @example
 * plural(1, 'finding'); // '1 finding'
 * plural(3, 'log entry', 'log entries'); // '3 log entries'
 */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

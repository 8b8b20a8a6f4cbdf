// Deliberate bugs for the simulator's mutation check (decision 0152). A mutant is switched on only by
// the internal `mutant` option of one Tally instance (the simulator passes it); normal builds never set
// it, and each switch is one property comparison at the place the bug would be.

/** The deliberate bugs the simulator must find (docs/simulator.md). */
export const MUTANTS = [
  'skip-fingerprint',
  'state-without-log',
  'compensate-on-unknown',
  'no-lease-check',
  'checkpoint-before-ack',
] as const;

export type MutantName = (typeof MUTANTS)[number];

/** True for a known mutant name. */
export function isMutant(v: unknown): v is MutantName {
  return typeof v === 'string' && (MUTANTS as readonly string[]).includes(v);
}

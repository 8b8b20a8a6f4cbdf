// The types a step's code sees. Apart from definition.ts so that change.ts (which definition.ts compiles)
// can name them without importing definition.ts back.
import type { Executor } from '../db/types.js';

/** The context a local step, a call's request builder and the compensation run with. */
export interface StepContext<I = unknown> {
  readonly id: string;
  readonly type: string;
  readonly key: string;
  readonly principal: string;
  /** The input recorded at the first submit (a retry's input is never used). */
  readonly input: I;
  /** The step's transaction; it holds the command's row lock. */
  readonly tx: Executor;
  /** Spread into entity writes: `points.update({ key, set, ...ctx.write })` joins the step's transaction. */
  readonly write: { tx: Executor; commandId: string; actor: string; requestId: string };
  /** The injected clock, read once when the step began. */
  readonly now: Date;
  /** Recorded decisions so far (by name). */
  readonly decisions: Readonly<Record<string, unknown>>;
  /** Outputs of completed steps (a call's output is its success value). */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** The definite failure being compensated (only in `compensate`). */
  readonly failure: CommandFailure | null;
  /** Evaluates a check once and records its answer; on every later run returns the recorded answer. */
  decide<T>(name: string, check: () => T | Promise<T>): Promise<T>;
  /** Ends the command as a definite failure: this step's effects are rolled back, earlier ones compensated. */
  fail(reason: string, details?: Record<string, unknown>): never;
}

export interface CommandFailure {
  step: string;
  reason: string;
  details?: Record<string, unknown>;
  compensated?: boolean;
}

import type { Executor } from '../db/types.js';
import type { ResolvedStep } from './definition.js';
import type { Draft } from './machine.js';
import type { Plan } from './plan.js';

type CallStepR = Extract<ResolvedStep<unknown>, { kind: 'call' }>;

/** The downstream is behind an open breaker: pause (no attempt spent), or flag once the deadline passed. */
export async function pauseOrFlag(
  tx: Executor,
  d: Draft,
  step: CallStepR,
  probeAt: Date | null,
): Promise<Plan> {
  if (d.now.getTime() >= d.deadline.getTime()) {
    d.flag(
      step.name,
      `command ${d.spec.name} reached its deadline while downstream ${step.downstream} was unreachable (breaker open)`,
      { why: 'deadline', downstream: step.downstream, deadline: d.deadline },
    );
  } else {
    d.pause(step.name, step.downstream, probeAt);
  }
  return { kind: 'stop', row: await d.save(tx) };
}

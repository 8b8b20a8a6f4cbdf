import { TallyError } from '../errors.js';
import type { ActionBy, OperatorAction } from './actions.js';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function text(v: unknown, code: 'MISSING_ACTOR' | 'MISSING_REASON', action: string, what: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 200) {
    throw new TallyError(code, `${action} needs ${what}: a string of 1-200 characters`);
  }
  return v;
}

/** The actor and reason an action records, checked (MISSING_ACTOR / MISSING_REASON). */
export function actionBy(by: ActionBy | undefined, action: string): ActionBy {
  return {
    actor: text(by?.actor, 'MISSING_ACTOR', action, 'an actor (who does it)'),
    reason: text(by?.reason, 'MISSING_REASON', action, 'a reason'),
  };
}

/** A command id as given: a UUID, or COMMAND_NOT_FOUND (nothing else can name a command). */
export function commandId(id: unknown): string {
  if (typeof id !== 'string' || !UUID.test(id)) {
    throw new TallyError('COMMAND_NOT_FOUND', 'a command id is a UUID; this one is not');
  }
  return id.toLowerCase();
}

const WHY: Readonly<Record<string, string>> = {
  succeeded: 'the command has succeeded',
  failed: 'the command has failed for good',
  needs_attention: 'the command waits for a person: requeue it instead',
  pending: 'the command is not waiting for a person: retry it now instead',
  compensating: 'the command is undoing its effects, not waiting for a person: retry it now instead',
  resolved: 'the alert is resolved already',
  done: 'the job is done',
  'nothing planned': 'the plan is empty',
  'repaired already': 'nothing in the plan is left to repair (applied already, or the rows changed since)',
  'redriven already':
    'nothing in the plan can be re-driven (finished, due already, or held by a worker since)',
};

/** ACTION_NOT_APPLICABLE: the target's state no longer allows the action (its state in `details`). */
export function notApplicable(action: string, state: string): TallyError {
  return new TallyError('ACTION_NOT_APPLICABLE', `${action} does not apply: ${WHY[state] ?? state}`, {
    details: { state },
  });
}

export function toAction(r: Record<string, unknown>): OperatorAction {
  return {
    id: String(r.id),
    action: String(r.action),
    target: String(r.target),
    actor: String(r.actor),
    reason: String(r.reason),
    data: typeof r.data === 'string' ? JSON.parse(r.data) : (r.data ?? null),
    at: r.at instanceof Date ? r.at : new Date(String(r.at)),
  };
}

// An operator action's form: the operator's name and a reason are required (both go into Tally's log), and the
// button stays disabled until both are there. The answer — done, or refused and why — shows beside it.
import { ApiError, act, session } from './api.js';
import { h, mount } from './dom.js';
import { errorBox } from './view.js';

const LABEL: Record<string, string> = {
  requeue: 'Requeue',
  'retry-now': 'Retry now',
  'resolve-alert': 'Resolve alert',
  'resume-job': 'Resume job',
  'repair-apply': 'Apply repair',
  repair: 'Repair',
  redrive: 'Re-drive',
};

/**
 * A form that POSTs /api/actions/<action> with `target` plus actor and reason, then calls `done`.
 *
 * @example
 * actionForm('requeue', { commandId: id }, () => ctx.rerender())
 */
export function actionForm(action: string, target: Record<string, unknown>, done: () => void): HTMLElement {
  const actor = h('input', {
    type: 'text',
    name: 'actor',
    placeholder: 'your name',
    value: session.actor(),
    maxlength: 200,
    required: true,
  });
  const reason = h('input', {
    type: 'text',
    name: 'reason',
    placeholder: 'reason (required, recorded in the log)',
    maxlength: 200,
    required: true,
    class: 'reason',
  });
  const button = h(
    'button',
    { type: 'submit', disabled: true, 'data-action': action },
    LABEL[action] ?? action,
  );
  const out = h('div', { class: 'action-result', 'aria-live': 'polite' });
  const sync = () => {
    button.disabled = actor.value.trim() === '' || reason.value.trim() === '';
  };
  actor.addEventListener('input', sync);
  reason.addEventListener('input', sync);
  const form = h('form', { class: 'action', 'data-action': action }, actor, reason, button, out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    sync();
    if (button.disabled) return;
    button.disabled = true;
    session.setActor(actor.value.trim());
    try {
      await act(action, { ...target, actor: actor.value.trim(), reason: reason.value.trim() });
      mount(out, h('span', { class: 'ok' }, `${LABEL[action] ?? action}: done`));
      reason.value = '';
      done();
    } catch (err) {
      mount(out, errorBox(err instanceof ApiError ? err : new ApiError(0, 'NETWORK', 'no answer')));
    } finally {
      sync();
    }
  });
  return form;
}

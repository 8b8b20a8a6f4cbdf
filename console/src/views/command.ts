// A command's page: its record, its timeline (every event with its time, time since the start and time to the
// next event), the fingerprint and request, the recorded decisions, each outbound call's snapshot exactly as
// sent with its answers, messages taken in, compensation, alerts, and the actions that apply now. The data
// refreshes every 2 s; the action forms stay put (a reason being typed is not wiped by a refresh).

import { actionForm } from '../actions.js';
import { get } from '../api.js';
import { h, jsonBlock, mount } from '../dom.js';
import { duration, time } from '../format.js';
import { link } from '../router.js';
import type { Alert, Call, CommandPage, TimelineEvent } from '../types.js';
import { badge, facts, section, showError, type ViewContext } from '../view.js';

const outcomeWord = (c: Call) => (c.outcome === null ? 'unknown' : c.outcome);

function timeline(events: TimelineEvent[]): HTMLElement {
  return h(
    'table',
    { class: 'list timeline', id: 'timeline' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['at', 'since start', 'took', 'event', 'step', 'data'].map((t) => h('th', null, t)),
      ),
    ),
    h(
      'tbody',
      null,
      events.map((e) =>
        h(
          'tr',
          { 'data-kind': e.kind },
          h('td', null, time(e.at)),
          h('td', { class: 'num' }, duration(e.sinceStartMs ?? null)),
          h('td', { class: 'num' }, duration(e.durationMs ?? null)),
          h('td', null, e.kind),
          h('td', null, e.step ?? ''),
          h('td', null, e.data === null || e.data === undefined ? '' : jsonBlock(e.data, 'json small')),
        ),
      ),
    ),
  );
}

function call(c: Call): HTMLElement {
  return h(
    'div',
    { class: 'call', 'data-step': c.step, 'data-outcome': outcomeWord(c) },
    h('h3', null, `${c.step} → ${c.downstreamKey} `, badge(outcomeWord(c))),
    facts([
      ['sends', String(c.sends)],
      ['queries', String(c.queries)],
      ['first sent', time(c.firstSentAt)],
      ['last sent', time(c.lastSentAt)],
      ['resolved by', c.resolvedBy],
      ['resolved at', time(c.resolvedAt)],
    ]),
    h('h4', null, 'Snapshot as sent'),
    jsonBlock(c.request, 'json outbound-snapshot'),
    h('h4', null, c.outcome === null ? 'No definite answer yet (unknown)' : 'Answer'),
    c.outcome === null ? null : jsonBlock(c.value, 'json answer'),
  );
}

function alerts(list: Alert[], canResolve: boolean, done: () => void): HTMLElement {
  if (!list.length) return h('p', { class: 'muted' }, 'No alert.');
  return h(
    'div',
    null,
    list.map((a) =>
      h(
        'div',
        { class: a.resolvedAt ? 'alert resolved' : 'alert open', 'data-alert': a.id },
        h('strong', null, a.kind),
        ` ${time(a.at)} — `,
        a.message,
        a.resolvedAt
          ? h(
              'div',
              { class: 'muted' },
              `resolved ${time(a.resolvedAt)} by ${a.resolvedBy ?? '?'}: ${a.resolvedReason ?? ''}`,
            )
          : null,
        a.data === null || a.data === undefined ? null : jsonBlock(a.data, 'json small'),
        !a.resolvedAt && canResolve ? actionForm('resolve-alert', { alertId: a.id }, done) : null,
      ),
    ),
  );
}

function details(p: CommandPage, canResolve: boolean, done: () => void): HTMLElement[] {
  const c = p.command;
  const terminal = c.status === 'succeeded' || c.status === 'failed';
  return [
    facts([
      ['status', badge(c.status)],
      ['type', c.type],
      ['principal', c.principal],
      ['idempotency key', c.key],
      ['attempts', String(c.attempts)],
      ['step', String(c.stepIndex)],
      ['received', time(c.createdAt)],
      ['updated', time(c.updatedAt)],
      ['finished', time(c.finishedAt)],
      ['next attempt', terminal ? '' : time(c.nextAt)],
      ['lease', c.leaseOwner ? `${c.leaseOwner} until ${time(c.leaseUntil)}` : ''],
      ['paused on', c.pausedOn],
      ['error', c.error ? `${c.error.code ?? ''} ${c.error.message ?? ''}` : ''],
    ]),
    section('Timeline', timeline(p.events)),
    section(
      'Outbound calls',
      p.calls.length ? h('div', null, p.calls.map(call)) : h('p', { class: 'muted' }, 'No outbound call.'),
    ),
    section(
      'Request',
      facts([['fingerprint', h('span', { class: 'mono' }, c.fingerprint)]]),
      h('h4', null, 'params'),
      jsonBlock(c.params),
      h('h4', null, 'input'),
      jsonBlock(c.input),
    ),
    section(
      'Decisions',
      Object.keys(c.decisions ?? {}).length
        ? jsonBlock(c.decisions, 'json decisions')
        : h('p', { class: 'muted' }, 'None recorded.'),
    ),
    section('Outputs and result', jsonBlock({ outputs: c.outputs, result: c.result })),
    section(
      'Messages taken in',
      p.messages.length ? timeline(p.messages) : h('p', { class: 'muted' }, 'None.'),
    ),
    section(
      'Compensation',
      p.compensation.length ? timeline(p.compensation) : h('p', { class: 'muted' }, 'None.'),
    ),
    section('Alerts', alerts(p.alerts, canResolve, done)),
  ];
}

export async function command(ctx: ViewContext): Promise<void> {
  const id = ctx.route.parts[1] ?? '';
  const title = h('h1', null, 'Command ', h('span', { class: 'mono' }, id));
  const actionsEl = h('div', { class: 'actions', id: 'command-actions' });
  const body = h('div', { id: 'command' });
  mount(ctx.el, h('a', { href: link(['commands']) }, '← Commands'), title, actionsEl, body);
  let shownActions = '';
  let shown = ''; // the last answer rendered: an unchanged answer leaves the page (and any typing) alone
  const offered = ctx.session?.actions ?? [];
  const canAct = ctx.session?.access === 'operator';
  const load = async () => {
    try {
      const p = await get<CommandPage>(`commands/${encodeURIComponent(id)}`);
      if (!ctx.alive()) return;
      const sig = JSON.stringify(p);
      if (sig === shown) return;
      shown = sig;
      mount(
        body,
        details(p, canAct && offered.includes('resolve-alert'), () => void load()),
      );
      const now = canAct ? p.actions.filter((a) => offered.includes(a) && a !== 'resolve-alert') : [];
      if (now.join() !== shownActions) {
        shownActions = now.join();
        mount(
          actionsEl,
          now.length ? h('h2', null, 'Actions') : null,
          now.map((a) => actionForm(a, { commandId: id }, () => void load())),
        );
      }
    } catch (err) {
      if (ctx.alive()) showError(body, err);
    }
  };
  await load();
  ctx.every(2000, load);
}

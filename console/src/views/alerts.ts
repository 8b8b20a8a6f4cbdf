// Alerts: open or all, newest first, each linked to its command, with a resolve form for an operator.

import { actionForm } from '../actions.js';
import { get } from '../api.js';
import { h, mount } from '../dom.js';
import { time } from '../format.js';
import { link } from '../router.js';
import type { Alert, Page } from '../types.js';
import { showError, type ViewContext } from '../view.js';

export async function alerts(ctx: ViewContext): Promise<void> {
  const q = ctx.route.query;
  const open = q.get('open') ?? '';
  const after = q.get('after');
  const body = h('div', { id: 'alerts' });
  const filter = h(
    'div',
    { class: 'toolbar' },
    [
      ['', 'all'],
      ['true', 'open'],
      ['false', 'resolved'],
    ].map(([v, label]) =>
      h('a', { href: link(['alerts'], { open: v }), class: v === open ? 'on' : '' }, label!),
    ),
  );
  mount(ctx.el, h('h1', null, 'Alerts'), filter, body);
  const canResolve =
    ctx.session?.access === 'operator' && (ctx.session.actions ?? []).includes('resolve-alert');
  try {
    const page = await get<Page<Alert>>('alerts', { open, after, limit: 50 });
    if (!ctx.alive()) return;
    mount(
      body,
      page.items.length
        ? page.items.map((a) =>
            h(
              'div',
              { class: a.resolvedAt ? 'alert resolved' : 'alert open', 'data-alert': a.id },
              h('strong', null, a.kind),
              ` ${time(a.at)} `,
              a.commandId
                ? h(
                    'a',
                    { href: link(['commands', a.commandId]) },
                    `${a.commandType ?? 'command'} ${a.commandId}`,
                  )
                : (a.commandType ?? ''),
              h('div', null, a.message),
              a.resolvedAt
                ? h(
                    'div',
                    { class: 'muted' },
                    `resolved ${time(a.resolvedAt)} by ${a.resolvedBy ?? '?'}: ${a.resolvedReason ?? ''}`,
                  )
                : null,
              !a.resolvedAt && canResolve
                ? actionForm('resolve-alert', { alertId: a.id }, () => ctx.rerender())
                : null,
            ),
          )
        : h('p', { class: 'muted' }, 'No alert.'),
      page.next
        ? h('a', { href: link(['alerts'], { open, after: page.next }), id: 'next-page' }, 'Next page')
        : null,
    );
  } catch (err) {
    if (ctx.alive()) showError(body, err);
  }
}

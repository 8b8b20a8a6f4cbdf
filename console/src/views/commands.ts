// Commands: filter by status, type, principal and time, or find by idempotency key; newest first, one keyset
// page at a time ("Next page" carries the API's cursor in the address, so reload and back keep the page).
import { get } from '../api.js';
import { h, mount } from '../dom.js';
import { time } from '../format.js';
import { link } from '../router.js';
import type { CommandItem, Page } from '../types.js';
import { badge, showError, type ViewContext } from '../view.js';

export const STATUSES = ['pending', 'compensating', 'succeeded', 'failed', 'needs_attention'];
const FILTERS = ['status', 'type', 'principal', 'since', 'until', 'key'] as const;

function filterForm(q: URLSearchParams): HTMLFormElement {
  const status = h(
    'select',
    { name: 'status' },
    h('option', { value: '' }, 'any status'),
    STATUSES.map((s) => h('option', { value: s, selected: q.get('status') === s }, s)),
  );
  const field = (name: string, placeholder: string, type = 'text') =>
    h('input', { name, placeholder, type, value: q.get(name) ?? '' });
  const form = h(
    'form',
    { class: 'filters', id: 'command-filters' },
    status,
    field('type', 'type'),
    field('principal', 'principal'),
    field('since', 'since (ISO time)'),
    field('until', 'until (ISO time)'),
    field('key', 'idempotency key'),
    h('button', { type: 'submit' }, 'Search'),
    h('a', { href: link(['commands']) }, 'clear'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const query: Record<string, string> = {};
    for (const f of FILTERS) {
      const v = String(data.get(f) ?? '').trim();
      if (v) query[f] = v;
    }
    location.hash = link(['commands'], query);
  });
  return form;
}

function table(items: CommandItem[]): HTMLElement {
  if (!items.length) return h('p', { class: 'muted' }, 'No command matches.');
  return h(
    'table',
    { class: 'list', id: 'commands' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['status', 'type', 'principal', 'key', 'attempts', 'received', 'updated', 'error', ''].map((t) =>
          h('th', null, t),
        ),
      ),
    ),
    h(
      'tbody',
      null,
      items.map((c) =>
        h(
          'tr',
          { 'data-id': c.id, 'data-status': c.status },
          h('td', null, badge(c.status)),
          h('td', null, c.type),
          h('td', null, c.principal),
          h('td', { class: 'mono' }, c.key),
          h('td', { class: 'num' }, String(c.attempts)),
          h('td', null, time(c.createdAt)),
          h('td', null, time(c.updatedAt)),
          h('td', null, c.error?.code ?? ''),
          h('td', null, h('a', { href: link(['commands', c.id]), class: 'open' }, 'open')),
        ),
      ),
    ),
  );
}

export async function commands(ctx: ViewContext): Promise<void> {
  const q = ctx.route.query;
  const body = h('div');
  mount(ctx.el, h('h1', null, 'Commands'), filterForm(q), body);
  const query: Record<string, string> = {};
  for (const f of [...FILTERS, 'after']) {
    const v = q.get(f);
    if (v) query[f] = v;
  }
  try {
    const page = await get<Page<CommandItem>>('commands', { ...query, limit: 50 });
    if (!ctx.alive()) return;
    const nav = h('div', { class: 'pager' });
    if (q.get('after'))
      nav.append(h('a', { href: link(['commands'], { ...query, after: null }) }, 'First page'));
    if (page.next)
      nav.append(
        h('a', { href: link(['commands'], { ...query, after: page.next }), id: 'next-page' }, 'Next page'),
      );
    mount(body, table(page.items), nav);
  } catch (err) {
    if (ctx.alive()) showError(body, err);
  }
}

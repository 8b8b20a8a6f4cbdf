// Entities: find one by type and key; its audited history newest first (actor, action, time, IP, reason,
// command, before → after as a field diff), its state as of a version or a time, and its chain check.
import { get } from '../api.js';
import { diff } from '../diff.js';
import { h, jsonBlock, mount } from '../dom.js';
import { short, time } from '../format.js';
import { link } from '../router.js';
import type { History, LogItem } from '../types.js';
import { facts, section, showError, type ViewContext } from '../view.js';
import { chainPanel } from './chain.js';

function diffTable(e: LogItem): HTMLElement {
  // `before` holds the old values of the changed fields only: the full before image is after ⊕ before.
  const before = e.before === null ? null : { ...(e.after ?? {}), ...e.before };
  const rows = diff(before, e.after).filter((r) => r.kind !== 'same');
  if (!rows.length) return h('p', { class: 'muted' }, 'no field changed');
  return h(
    'table',
    { class: 'diff' },
    h('thead', null, h('tr', null, h('th', null, 'field'), h('th', null, 'before'), h('th', null, 'after'))),
    h(
      'tbody',
      null,
      rows.map((r) =>
        h(
          'tr',
          { class: `diff-${r.kind}`, 'data-field': r.field },
          h('td', null, r.field),
          h('td', { class: 'before' }, r.kind === 'added' ? '' : short(r.before, 400)),
          h('td', { class: 'after' }, r.kind === 'removed' ? '' : short(r.after, 400)),
        ),
      ),
    ),
  );
}

function entry(e: LogItem): HTMLElement {
  return h(
    'div',
    { class: 'log-entry', 'data-version': e.version },
    h('h3', null, `v${e.version} ${e.action} `, h('span', { class: 'muted' }, time(e.at))),
    facts([
      ['actor', e.actor],
      ['reason', e.reason],
      ['source IP', e.sourceIp],
      ['request', e.requestId],
      ['command', e.commandId ? h('a', { href: link(['commands', e.commandId]) }, e.commandId) : null],
    ]),
    diffTable(e),
  );
}

function finder(type: string, key: string, asOf: string, types: string[]): HTMLFormElement {
  const form = h(
    'form',
    { class: 'filters', id: 'entity-find' },
    h(
      'select',
      { name: 'type' },
      types.map((t) => h('option', { value: t, selected: t === type }, t)),
    ),
    h('input', { name: 'key', placeholder: 'key', value: key, required: true }),
    h('input', { name: 'asOf', placeholder: 'as of (version or ISO time)', value: asOf }),
    h('button', { type: 'submit' }, 'Show history'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const d = new FormData(form);
    const t = String(d.get('type') ?? '');
    const k = String(d.get('key') ?? '').trim();
    if (t && k) location.hash = link(['entities', t, k], { asOf: String(d.get('asOf') ?? '').trim() });
  });
  return form;
}

export async function entities(ctx: ViewContext): Promise<void> {
  const [, type = '', key = ''] = ctx.route.parts;
  const q = ctx.route.query;
  const asOf = q.get('asOf') ?? '';
  const body = h('div', { id: 'entity' });
  mount(ctx.el, h('h1', null, 'Entities'), body);
  try {
    const list = await get<{ items: { type: string }[] }>('entities');
    const types = list.items.map((t) => t.type);
    if (!ctx.alive()) return;
    const form = finder(type || types[0] || '', key, asOf, types);
    if (!type || !key) {
      mount(body, form, types.length ? null : h('p', { class: 'muted' }, 'No entity type is logged yet.'));
      return;
    }
    const after = q.get('after');
    const hist = await get<History>(
      `entities/${encodeURIComponent(type)}/${encodeURIComponent(key)}/history`,
      {
        asOf,
        after,
        limit: 50,
      },
    );
    if (!ctx.alive()) return;
    const pager = h('div', { class: 'pager' });
    if (after) pager.append(h('a', { href: link(['entities', type, key], { asOf }) }, 'Newest'));
    if (hist.next)
      pager.append(
        h('a', { href: link(['entities', type, key], { asOf, after: hist.next }), id: 'next-page' }, 'Older'),
      );
    mount(
      body,
      form,
      h(
        'h2',
        null,
        `${hist.type} `,
        h('span', { class: 'mono' }, hist.key),
        ` — version ${hist.latestVersion}`,
      ),
      chainPanel(hist.type, hist.key, ctx.alive),
      asOf
        ? section(
            `State as of ${asOf}`,
            hist.asOf
              ? h(
                  'div',
                  null,
                  facts([
                    ['version', String(hist.asOf.version)],
                    ['at', time(hist.asOf.at)],
                  ]),
                  jsonBlock(hist.asOf.state, 'json as-of'),
                )
              : h('p', { class: 'muted' }, 'The entity had no version then.'),
          )
        : null,
      section('History', h('div', { id: 'history' }, hist.items.map(entry)), pager),
    );
  } catch (err) {
    if (ctx.alive()) showError(body, err);
  }
}

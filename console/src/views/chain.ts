// An entity's chain check (GET /api/entities/:type/:key/chain): its log against itself — versions
// contiguous, before images following after images, legacy hashes — and its sealed entries against the
// sealed tree. Read from the log alone, so it answers under `tally serve` too.
import { get } from '../api.js';
import { h, mount } from '../dom.js';
import { link } from '../router.js';
import type { EntityChain } from '../types.js';
import { errorBox, facts, section } from '../view.js';

function verdict(c: EntityChain): string {
  if (c.ok) {
    const sealed = c.sealed.sealed
      ? `; ${c.sealed.sealed} sealed entr${c.sealed.sealed === 1 ? 'y is' : 'ies are'} as sealed`
      : '';
    return `The chain is intact: ${c.entries} entr${c.entries === 1 ? 'y' : 'ies'} from v${c.firstVersion}${sealed}.`;
  }
  const n = c.findings.length + (c.sealed.changed.length ? 1 : 0);
  return `${n} problem${n === 1 ? '' : 's'} in this entity's log.`;
}

function render(c: EntityChain): HTMLElement[] {
  const rows = [
    ...c.findings.map((f) =>
      h('tr', { 'data-kind': f.kind }, h('td', null, f.kind), h('td', null, f.message)),
    ),
    ...c.sealed.changed.map((x) =>
      h(
        'tr',
        { 'data-kind': 'sealed_changed', 'data-version': x.version },
        h('td', null, 'sealed_changed'),
        h(
          'td',
          null,
          `v${x.version} (position ${x.position} of ${x.origin}): its chunk no longer hashes to the sealed root — this entry or another of the same 1,024 was changed since sealing (tally verify names the range)`,
        ),
      ),
    ),
  ];
  return [
    h('p', { id: 'entity-chain', 'data-ok': String(c.ok), class: c.ok ? 'ok' : 'error-text' }, verdict(c)),
    facts([
      ['entries', c.entries],
      ['versions', c.firstVersion === null ? null : `v${c.firstVersion} – v${c.latestVersion}`],
      ['sealed', c.sealed.origins.length ? `${c.sealed.sealed} of ${c.entries}` : 'no sealed tree'],
      ['not sealed yet', c.sealed.unsealed || null],
      ['not verified here', c.sealed.unverified || null],
      ['checked in', `${c.durationMs} ms`],
    ]),
    rows.length
      ? h(
          'table',
          { class: 'list', id: 'chain-findings' },
          h('thead', null, h('tr', null, h('th', null, 'kind'), h('th', null, 'what'))),
          h('tbody', null, rows),
        )
      : null,
  ].filter((x): x is HTMLElement => x !== null);
}

/** The chain check's panel, loading; the type-wide state <-> log dry run stays one click away. */
export function chainPanel(type: string, key: string, alive: () => boolean): HTMLElement {
  const body = h('div', { id: 'entity-chain-body' }, h('p', { class: 'muted' }, 'Checking…'));
  const panel = section(
    'Chain check',
    body,
    h(
      'p',
      null,
      h(
        'a',
        { href: link(['reconcile'], { entity: type }), id: 'entity-check' },
        `Check every ${type} against its log (dry run)`,
      ),
    ),
  );
  get<EntityChain>(`entities/${encodeURIComponent(type)}/${encodeURIComponent(key)}/chain`)
    .then((c) => {
      if (alive()) mount(body, render(c));
    })
    .catch((err: unknown) => {
      if (alive()) mount(body, errorBox(err));
    });
  return panel;
}

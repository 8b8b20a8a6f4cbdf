// Reconcile: the state <-> log check of one entity type as a dry run (any token: it writes nothing), its
// findings, and for the operator a repair (name and reason required) after which the view checks again.
// Keys and images are text nodes and JSON text, never markup: they are whatever the table holds.
import { actionForm } from '../actions.js';
import { get, post } from '../api.js';
import { h, jsonBlock, mount } from '../dom.js';
import { link } from '../router.js';
import { facts, section, showError, type ViewContext } from '../view.js';
import { downstreamCheck } from './downstream.js';

interface Finding {
  key: string;
  kind: string;
  details: Record<string, unknown>;
}

interface CheckReport {
  entity: string;
  ok: boolean;
  startedAt: string;
  durationMs: number;
  summary: { rows: number; logEntries: number } | null;
  counts: Record<string, number>;
  total: number;
  truncated: boolean;
  findings: Finding[];
  repairable: number;
  manual: number;
}

const MISSING_LOG = new Set(['no_log', 'version_ahead_of_log']);

function chooser(types: string[], entity: string): HTMLFormElement {
  const form = h(
    'form',
    { class: 'filters', id: 'reconcile-run' },
    h(
      'select',
      { name: 'entity' },
      types.map((t) => h('option', { value: t, selected: t === entity }, t)),
    ),
    h('button', { type: 'submit' }, 'Run check (dry run)'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = String(new FormData(form).get('entity') ?? '');
    if (!t) return;
    // Same entity again: the hash does not change, so run it in place.
    const next = link(['reconcile'], { entity: t, run: Date.now() });
    location.hash = next;
  });
  return form;
}

function findingsTable(entity: string, list: Finding[]): HTMLElement {
  return h(
    'table',
    { class: 'list', id: 'findings' },
    h('thead', null, h('tr', null, h('th', null, 'key'), h('th', null, 'kind'), h('th', null, 'what'))),
    h(
      'tbody',
      null,
      list.map((f) =>
        h(
          'tr',
          { 'data-kind': f.kind },
          h('td', { class: 'mono' }, h('a', { href: link(['entities', entity, f.key]) }, f.key)),
          h('td', null, f.kind),
          h('td', null, String(f.details.message ?? ''), jsonBlock(f.details)),
        ),
      ),
    ),
  );
}

export async function reconcile(ctx: ViewContext): Promise<void> {
  const entity = ctx.route.query.get('entity') ?? '';
  const body = h('div', { id: 'reconcile' });
  const downstream = h('div', { id: 'downstream-check' });
  mount(ctx.el, h('h1', null, 'Reconcile'), body, downstream);
  void downstreamCheck(ctx, downstream); // beside the state <-> log check; it shows its own errors
  try {
    const list = await get<{ items: { type: string }[] }>('entities');
    const types = list.items.map((t) => t.type);
    if (!ctx.alive()) return;
    const form = chooser(types, entity || types[0] || '');
    if (!entity) {
      mount(
        body,
        form,
        h(
          'p',
          { class: 'muted' },
          types.length
            ? 'Choose an entity type: the check compares its table with its log and writes nothing.'
            : 'No entity type is logged yet.',
        ),
      );
      return;
    }
    mount(body, form, h('p', { class: 'muted' }, 'Checking…'));
    const r = await post<CheckReport>('reconcile/state-log', { entity, dryRun: true });
    if (!ctx.alive()) return;
    const canRepair = ctx.session?.actions.includes('repair') === true;
    const missing = r.findings.some((f) => MISSING_LOG.has(f.kind));
    mount(
      body,
      form,
      section(
        `Check of ${r.entity}`,
        h(
          'p',
          { id: 'reconcile-verdict', 'data-ok': String(r.ok) },
          r.ok
            ? 'The log explains every row of this entity.'
            : `${r.total} finding${r.total === 1 ? '' : 's'}: ${r.repairable} repairable, ${r.manual} for a person.`,
        ),
        facts([
          ['rows', r.summary?.rows ?? null],
          ['log entries', r.summary?.logEntries ?? null],
          ['ran at', r.startedAt],
          ['took', `${r.durationMs} ms`],
          ['by kind', Object.keys(r.counts).length ? jsonBlock(r.counts) : null],
        ]),
        r.truncated ? h('p', { class: 'muted' }, `Showing ${r.findings.length} of ${r.total}.`) : null,
        r.findings.length ? findingsTable(r.entity, r.findings) : null,
      ),
      r.repairable > 0
        ? section(
            'Repair',
            h(
              'p',
              null,
              'Writes a repair entry to the log for each repairable row, so the log explains the row as it is now. The server checks again first.',
            ),
            missing
              ? h(
                  'p',
                  { class: 'muted' },
                  'Rows whose log entries are missing are withheld: those entries may have been deleted. Check them, then repair with tally repair --accept-missing-log or the API.',
                )
              : null,
            canRepair
              ? actionForm('repair', { entity: r.entity }, () => ctx.rerender())
              : h('p', { class: 'muted' }, 'Repairing needs the operator token.'),
          )
        : null,
    );
  } catch (err) {
    if (ctx.alive()) showError(body, err);
  }
}

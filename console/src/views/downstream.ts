// Reconcile, second half: commands against a downstream's own records (decision 0149). The operator picks a
// downstream the server was configured with (never a URL: the page holds no credentials), a command type and
// a range; the dry run lists each call the two sides disagree on and what a re-drive would do; the operator
// then re-drives with a name and a reason, and the view checks again. Every value is a text node.
import { actionForm } from '../actions.js';
import { get, post } from '../api.js';
import { h, mount } from '../dom.js';
import { time } from '../format.js';
import { link } from '../router.js';
import { badge, facts, section, showError, type ViewContext } from '../view.js';

interface Downstream {
  name: string;
  types: string[];
  step: string | null;
  source: 'lookup' | 'table';
}

interface Difference {
  commandId: string;
  key: string;
  step: string;
  status: string;
  upstream: string;
  downstream: string;
  kind: string;
  state: 'pending' | 'mismatch';
  plan: 'redrive' | 'manual' | null;
  createdAt: string;
}

interface CommandsReport {
  downstream: string;
  type: string;
  ok: boolean;
  checked: number;
  agree: number;
  counts: { mismatches: number; pending: number };
  redrive: number;
  manual: number;
  truncated: boolean;
  differences: Difference[];
  startedAt: string;
  finishedAt: string;
}

const PLAN: Record<string, string> = {
  redrive: 're-drive',
  manual: 'for a person',
};

function chooser(list: Downstream[], q: URLSearchParams): HTMLFormElement {
  const chosen = list.find((d) => d.name === q.get('downstream')) ?? list[0]!;
  const typeSelect = h('select', { name: 'type' });
  const fillTypes = (d: Downstream) =>
    mount(
      typeSelect,
      d.types.map((t) => h('option', { value: t, selected: t === q.get('type') }, t)),
    );
  fillTypes(chosen);
  const downstream = h(
    'select',
    { name: 'downstream' },
    list.map((d) => h('option', { value: d.name, selected: d === chosen }, d.name)),
  );
  downstream.addEventListener('change', () => {
    const d = list.find((x) => x.name === downstream.value);
    if (d) fillTypes(d);
  });
  const scope = h(
    'select',
    { name: 'scope', title: 'open: calls no check has settled yet; all: every call in the range (an audit)' },
    h('option', { value: 'open', selected: q.get('scope') !== 'all' }, 'open calls'),
    h('option', { value: 'all', selected: q.get('scope') === 'all' }, 'all calls'),
  );
  const since = h('input', {
    type: 'text',
    name: 'since',
    placeholder: 'since (ISO time, optional)',
    value: q.get('since') ?? '',
  });
  const until = h('input', {
    type: 'text',
    name: 'until',
    placeholder: 'until (ISO time, optional)',
    value: q.get('until') ?? '',
  });
  const form = h(
    'form',
    { class: 'filters', id: 'downstream-run' },
    downstream,
    typeSelect,
    scope,
    since,
    until,
    h('button', { type: 'submit' }, 'Run check (dry run)'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const v = (k: string) => String(f.get(k) ?? '').trim();
    location.hash = link(['reconcile'], {
      downstream: v('downstream'),
      type: v('type'),
      scope: v('scope'),
      since: v('since'),
      until: v('until'),
      run: Date.now(), // the same check again changes the hash too
    });
  });
  return form;
}

function differencesTable(list: Difference[]): HTMLElement {
  return h(
    'table',
    { class: 'list', id: 'differences' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['command', 'received', 'step', 'status', 'upstream', 'downstream', 'kind', 'state', 'plan'].map(
          (c) => h('th', null, c),
        ),
      ),
    ),
    h(
      'tbody',
      null,
      list.map((d) =>
        h(
          'tr',
          { 'data-kind': d.kind, 'data-plan': d.plan ?? 'wait' },
          h('td', { class: 'mono' }, h('a', { href: link(['commands', d.commandId]) }, d.key)),
          h('td', null, time(d.createdAt)),
          h('td', null, d.step),
          h('td', null, badge(d.status)),
          h('td', null, d.upstream),
          h('td', null, d.downstream),
          h('td', null, d.kind.replaceAll('_', ' ')),
          h('td', null, d.state === 'pending' ? 'worker resolving' : 'mismatch'),
          h('td', null, d.plan ? PLAN[d.plan] : ''),
        ),
      ),
    ),
  );
}

/** The commands <-> downstream section of the Reconcile view, rendered into `el`. */
export async function downstreamCheck(ctx: ViewContext, el: HTMLElement): Promise<void> {
  const q = ctx.route.query;
  try {
    const { items } = await get<{ items: Downstream[] }>('reconcile/downstreams');
    if (!ctx.alive()) return;
    if (items.length === 0) {
      mount(
        el,
        section(
          'Commands ↔ downstream',
          h(
            'p',
            { class: 'muted', id: 'downstream-none' },
            "No downstream is configured: start the console with the app's module (tally serve --module PATH, exporting downstreams) or startConsoleServer({ downstreams }). See docs/console.md.",
          ),
        ),
      );
      return;
    }
    const form = chooser(items, q);
    const name = q.get('downstream');
    if (!name) {
      mount(
        el,
        section(
          'Commands ↔ downstream',
          form,
          h(
            'p',
            { class: 'muted' },
            "Compares each call Tally made with the downstream's own record of it. The dry run writes nothing.",
          ),
        ),
      );
      return;
    }
    mount(el, section('Commands ↔ downstream', form, h('p', { class: 'muted' }, 'Checking…')));
    const body: Record<string, unknown> = { downstream: name, dryRun: true };
    for (const k of ['type', 'scope', 'since', 'until']) {
      const v = q.get(k);
      if (v) body[k] = v;
    }
    const r = await post<CommandsReport>('reconcile/commands', body);
    if (!ctx.alive()) return;
    const canRedrive = ctx.session?.actions.includes('redrive') === true;
    const target = { ...body };
    delete target.dryRun;
    const total = r.counts.mismatches + r.counts.pending;
    mount(
      el,
      section(
        'Commands ↔ downstream',
        form,
        h(
          'p',
          { id: 'downstream-verdict', 'data-ok': String(r.ok) },
          r.ok
            ? `${r.downstream} agrees with every ${r.type} call checked (${r.checked}).`
            : `${total} difference${total === 1 ? '' : 's'}: ${r.counts.mismatches} mismatch${r.counts.mismatches === 1 ? '' : 'es'} (${r.redrive} to re-drive, ${r.manual} for a person), ${r.counts.pending} the worker is still resolving.`,
        ),
        facts([
          ['calls checked', r.checked],
          ['agree', r.agree],
          ['ran at', time(r.startedAt)],
        ]),
        r.truncated ? h('p', { class: 'muted' }, `Showing ${r.differences.length} of ${total}.`) : null,
        r.differences.length ? differencesTable(r.differences) : null,
      ),
      r.redrive > 0
        ? section(
            'Re-drive',
            h(
              'p',
              null,
              `Sends ${r.redrive} command${r.redrive === 1 ? '' : 's'} back to the worker, which sends the stored request again or asks the downstream by key. The server checks again first.`,
            ),
            canRedrive
              ? actionForm('redrive', target, () => ctx.rerender())
              : h('p', { class: 'muted' }, 'Re-driving needs the operator token.'),
          )
        : r.manual > 0
          ? h(
              'p',
              { class: 'muted' },
              "The mismatches are on finished commands: a person decides (refund or re-issue) from the command's page.",
            )
          : null,
    );
  } catch (err) {
    if (ctx.alive()) showError(el, err);
  }
}

// Reconcile: as far as the API offers. Today the server records no reconcile run and offers no reconcile
// action, so the view says where the checks run (the CLI) and shows a run when the overview carries one.
import { get } from '../api.js';
import { h, jsonBlock, mount } from '../dom.js';
import type { Overview } from '../types.js';
import { section, showError, type ViewContext } from '../view.js';

export async function reconcile(ctx: ViewContext): Promise<void> {
  const body = h('div', { id: 'reconcile' });
  mount(ctx.el, h('h1', null, 'Reconcile'), body);
  try {
    const o = await get<Overview>('overview', { buckets: 1 });
    if (!ctx.alive()) return;
    mount(
      body,
      section(
        'Last runs',
        o.reconcile === null
          ? h('p', { class: 'muted' }, 'This database records no reconcile run yet.')
          : jsonBlock(o.reconcile),
      ),
      section(
        'Run a check',
        h(
          'p',
          null,
          'This server offers no reconcile action yet. Run the checks with the CLI — each prints its report, and a repair runs as a dry run unless told to apply:',
        ),
        h('pre', { class: 'json' }, 'tally reconcile --help\ntally repair --help'),
      ),
    );
  } catch (err) {
    if (ctx.alive()) showError(body, err);
  }
}

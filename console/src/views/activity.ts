// The Overview's worker rounds and reconcile results (decision 0146): a stacked chart of what the
// workers' rounds claimed and how each command came out, the workers seen, and per entity type its last
// check and repair with the findings of its recent checks.
import { type Bucket, sparkline, statusOverTime } from '../charts.js';
import { h } from '../dom.js';
import { duration, time } from '../format.js';
import { link } from '../router.js';
import type { ReconcileResult, WorkerRounds } from '../types.js';
import { section } from '../view.js';

function table(head: string[], rows: HTMLElement[], attrs: Record<string, string> = {}): HTMLElement {
  return h(
    'table',
    { class: 'list', ...attrs },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        head.map((t) => h('th', null, t)),
      ),
    ),
    h('tbody', null, rows),
  );
}

/** Worker rounds per bucket as stacked outcomes (waiting = still open: a retry or a query later). */
export function workerRoundsPanel(w: WorkerRounds | null): HTMLElement {
  if (w === null)
    return section('Worker rounds', h('p', { class: 'muted' }, 'Not recorded by this database.'));
  const buckets: Bucket[] = w.series.map((b) => ({
    at: b.at,
    counts: {
      succeeded: b.succeeded,
      failed: b.failed,
      needs_attention: b.needsAttention,
      waiting: b.waiting,
    },
  }));
  const claimed = w.series.reduce((n, b) => n + b.claimed, 0);
  const rounds = w.series.reduce((n, b) => n + b.rounds, 0);
  const errors = w.series.reduce((n, b) => n + b.errors, 0);
  return section(
    `Worker rounds, per ${w.bucket}`,
    h(
      'div',
      { id: 'worker-rounds', 'data-claimed': claimed, 'data-rounds': rounds, 'data-errors': errors },
      statusOverTime(buckets, 560, 100, 'Commands the workers claimed, by how the round left them'),
      h(
        'p',
        { class: 'muted' },
        `${rounds} round${rounds === 1 ? '' : 's'} claimed ${claimed} command${claimed === 1 ? '' : 's'}`,
        errors ? `, ${errors} could not be recorded` : '',
        `. Rounds that found nothing due are not counted; the last ${w.keptHours} h are kept.`,
      ),
      w.workers.length
        ? table(
            ['worker', 'last busy round', 'rounds', 'claimed', 'errors'],
            w.workers.map((x) =>
              h(
                'tr',
                { 'data-worker': x.worker },
                h('td', { class: 'mono' }, x.worker),
                h('td', null, time(x.lastAt)),
                h('td', null, String(x.rounds)),
                h('td', null, String(x.claimed)),
                h('td', { class: x.errors ? 'error-text' : '' }, String(x.errors)),
              ),
            ),
            { id: 'workers' },
          )
        : h('p', { class: 'muted' }, 'No worker claimed anything in this window.'),
    ),
  );
}

/** Per entity type: the last check and repair, and the findings of its recent checks as a small chart. */
export function reconcilePanel(results: ReconcileResult[] | null): HTMLElement {
  if (results === null || results.length === 0) {
    return section(
      'Last reconcile per entity type',
      h(
        'p',
        { class: 'muted', id: 'reconcile-results-none' },
        'No reconcile result is recorded yet: run a check from the Reconcile view or with tally reconcile.',
      ),
    );
  }
  return section(
    'Last reconcile per entity type',
    table(
      ['entity type', 'last check', 'rows', 'findings', 'recent checks', 'last repair'],
      results.map((r) => {
        const findings = r.last?.findings ?? null;
        return h(
          'tr',
          { 'data-entity': r.entityType, 'data-findings': findings ?? '' },
          h('td', null, h('a', { href: link(['reconcile'], { entity: r.entityType }) }, r.entityType)),
          h('td', null, r.last ? `${time(r.last.at)} (${duration(r.last.durationMs)})` : ''),
          h('td', null, r.last?.checked === null || !r.last ? '' : String(r.last.checked)),
          h(
            'td',
            { class: findings ? 'error-text findings' : 'ok findings' },
            findings === null ? '' : findings === 0 ? 'clean' : String(findings),
          ),
          h(
            'td',
            null,
            sparkline(
              r.recent.map((c) => c.findings ?? 0),
              'findings per check, oldest first',
            ),
          ),
          h(
            'td',
            { class: 'repair' },
            r.lastRepair ? `${r.lastRepair.repaired ?? 0} repaired at ${time(r.lastRepair.at)}` : '',
          ),
        );
      }),
      { id: 'reconcile-results' },
    ),
  );
}

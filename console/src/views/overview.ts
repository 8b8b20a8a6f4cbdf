// Overview: what needs a person now (needs_attention, open alerts), commands by status over time, feed lag
// per consumer, open breakers, running jobs, worker rounds, the last reconcile per entity type. Refreshed
// every 5 s.
import { get } from '../api.js';
import { type Bucket, bars, progress, statusOverTime } from '../charts.js';
import { h, mount } from '../dom.js';
import { duration, time } from '../format.js';
import { link } from '../router.js';
import type { Overview } from '../types.js';
import { badge, section, showError, type ViewContext } from '../view.js';
import { reconcilePanel, workerRoundsPanel } from './activity.js';

function card(label: string, value: number, href: string, id: string, alarm: boolean): HTMLElement {
  return h(
    'a',
    { class: alarm && value > 0 ? 'card alarm' : 'card', href, id },
    h('span', { class: 'card-value' }, String(value)),
    h('span', { class: 'card-label' }, label),
  );
}

function render(o: Overview): HTMLElement[] {
  const buckets: Bucket[] = o.commands.overTime.series.map((row) => {
    const counts: Record<string, number> = {};
    for (const [k, v] of Object.entries(row)) if (k !== 'at' && typeof v === 'number') counts[k] = v;
    return { at: row.at, counts };
  });
  const byStatus = Object.entries(o.commands.byStatus);
  return [
    h(
      'div',
      { class: 'cards' },
      card(
        'need attention',
        o.commands.needsAttention,
        link(['commands'], { status: 'needs_attention' }),
        'needs-attention',
        true,
      ),
      card('open alerts', o.alerts.open, link(['alerts'], { open: 'true' }), 'open-alerts', true),
      card(
        'jobs running',
        o.jobs.running.length,
        link(['jobs'], { status: 'running' }),
        'jobs-running',
        false,
      ),
    ),
    section(
      `Commands by status, per ${o.commands.overTime.bucket}`,
      statusOverTime(buckets),
      h(
        'p',
        { class: 'by-status' },
        byStatus.map(([st, n]) =>
          h('a', { href: link(['commands'], { status: st }), class: 'count' }, badge(st), ` ${n}`),
        ),
      ),
    ),
    section(
      'Feed lag per consumer',
      bars(
        o.feed.map((c) => ({
          label: c.name,
          value: c.lagEntries ?? 0,
          note: c.lagSeconds === null ? '' : `(${duration(c.lagSeconds * 1000)})`,
          alarm: (c.lagSeconds ?? 0) > 60,
        })),
        ' entries',
      ),
      h('a', { href: link(['feed']) }, 'Feed details'),
    ),
    section(
      'Downstreams (breakers)',
      o.downstreams?.length
        ? h(
            'table',
            { class: 'list' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ['downstream', 'state', 'failures', 'opened', 'last error'].map((t) => h('th', null, t)),
              ),
            ),
            h(
              'tbody',
              null,
              o.downstreams.map((d) =>
                h(
                  'tr',
                  null,
                  h('td', null, d.name),
                  h('td', null, badge(d.state)),
                  h('td', null, String(d.failures)),
                  h('td', null, time(d.openedAt)),
                  h('td', null, d.lastError ?? ''),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No breaker recorded.'),
    ),
    section(
      'Jobs running',
      o.jobs.running.length
        ? h(
            'div',
            null,
            o.jobs.running.map((j) =>
              h(
                'div',
                { class: 'job-row' },
                h('a', { href: link(['jobs', j.id]) }, `${j.entityType} ${j.key}`),
                progress(j.done, j.total, j.status),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No job running.'),
    ),
    workerRoundsPanel(o.workerRounds),
    reconcilePanel(o.reconcile),
  ];
}

export async function overview(ctx: ViewContext): Promise<void> {
  const bucket = ctx.route.query.get('bucket') ?? 'hour';
  const body = h('div', { id: 'overview' });
  const pick = h(
    'div',
    { class: 'toolbar' },
    'Buckets: ',
    ['minute', 'hour', 'day'].map((b) =>
      h('a', { href: link(['overview'], { bucket: b }), class: b === bucket ? 'on' : '' }, b),
    ),
  );
  mount(ctx.el, h('h1', null, 'Overview'), pick, body);
  const load = async () => {
    try {
      const o = await get<Overview>('overview', { bucket, buckets: bucket === 'minute' ? 60 : 24 });
      if (ctx.alive()) mount(body, render(o));
    } catch (err) {
      if (ctx.alive()) showError(body, err);
    }
  };
  await load();
  ctx.every(5000, load);
}

// Jobs: every job with a progress bar; a job's page with its counts, a live progress bar (refreshed every
// second while it runs) and its rejected items with their reasons.

import { actionForm } from '../actions.js';
import { get } from '../api.js';
import { progress } from '../charts.js';
import { h, jsonBlock, mount } from '../dom.js';
import { time } from '../format.js';
import { link } from '../router.js';
import type { Job, Page } from '../types.js';
import { badge, facts, section, showError, type ViewContext } from '../view.js';

const live = (j: Job) => j.status === 'running' || j.status === 'pending';

export async function jobs(ctx: ViewContext): Promise<void> {
  if (ctx.route.parts[1]) return job(ctx, ctx.route.parts[1]);
  const q = ctx.route.query;
  const status = q.get('status') ?? '';
  const after = q.get('after');
  const body = h('div');
  const filter = h(
    'div',
    { class: 'toolbar' },
    ['', 'pending', 'running', 'done', 'failed'].map((s) =>
      h('a', { href: link(['jobs'], { status: s }), class: s === status ? 'on' : '' }, s || 'all'),
    ),
  );
  mount(ctx.el, h('h1', null, 'Jobs'), filter, body);
  const load = async () => {
    try {
      const page = await get<Page<Job>>('jobs', { status, after, limit: 50 });
      if (!ctx.alive()) return;
      mount(
        body,
        page.items.length
          ? h(
              'table',
              { class: 'list', id: 'jobs' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ['job', 'entity', 'status', 'progress', 'rejected', 'started'].map((t) => h('th', null, t)),
                ),
              ),
              h(
                'tbody',
                null,
                page.items.map((j) =>
                  h(
                    'tr',
                    { 'data-id': j.id },
                    h('td', null, h('a', { href: link(['jobs', j.id]) }, j.key)),
                    h('td', null, j.entityType),
                    h('td', null, badge(j.status)),
                    h('td', null, progress(j.done, j.total, j.status)),
                    h('td', { class: 'num' }, String(j.rejected ?? 0)),
                    h('td', null, time(j.createdAt)),
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No job.'),
        page.next
          ? h('a', { href: link(['jobs'], { status, after: page.next }), id: 'next-page' }, 'Next page')
          : null,
      );
    } catch (err) {
      if (ctx.alive()) showError(body, err);
    }
  };
  await load();
  ctx.every(3000, load);
}

async function job(ctx: ViewContext, id: string): Promise<void> {
  const body = h('div', { id: 'job' });
  const actionsEl = h('div', { class: 'actions' });
  mount(ctx.el, h('a', { href: link(['jobs']) }, '← Jobs'), h('h1', null, 'Job'), actionsEl, body);
  let stopped = false;
  let shownResume = false;
  const load = async () => {
    if (stopped) return;
    try {
      const r = await get<{
        job: Job;
        rejected: Page<{ seq: number; key: string; reason: string; message: string }>;
      }>(`jobs/${encodeURIComponent(id)}`);
      if (!ctx.alive()) return;
      const j = r.job;
      mount(
        body,
        h('div', { id: 'job-progress' }, progress(j.done, j.total, j.status)),
        facts([
          ['key', j.key],
          ['entity', j.entityType],
          ['status', badge(j.status)],
          ['total', String(j.total)],
          ['done', String(j.done)],
          ['changed', String(j.changed ?? '')],
          ['unchanged', String(j.unchanged ?? '')],
          ['rejected', String(j.rejected ?? '')],
          ['chunks done', `${j.chunksDone ?? ''} of size ${j.chunkSize ?? ''}`],
          ['started', time(j.createdAt)],
          ['finished', time(j.finishedAt)],
          ['error', j.error ? JSON.stringify(j.error) : ''],
        ]),
        j.op === undefined ? null : section('Operation', jsonBlock(j.op)),
        section(
          'Rejected items',
          r.rejected.items.length
            ? h(
                'table',
                { class: 'list', id: 'rejected' },
                h(
                  'thead',
                  null,
                  h(
                    'tr',
                    null,
                    ['#', 'key', 'reason', 'message'].map((t) => h('th', null, t)),
                  ),
                ),
                h(
                  'tbody',
                  null,
                  r.rejected.items.map((x) =>
                    h(
                      'tr',
                      null,
                      h('td', { class: 'num' }, String(x.seq)),
                      h('td', null, x.key),
                      h('td', null, x.reason),
                      h('td', null, x.message),
                    ),
                  ),
                ),
              )
            : h('p', { class: 'muted' }, 'None.'),
        ),
      );
      const resumable =
        ctx.session?.access === 'operator' &&
        ctx.session.actions.includes('resume-job') &&
        j.status !== 'done';
      if (resumable !== shownResume) {
        shownResume = resumable;
        const resumed = () => {
          stopped = false; // it moves again
          void load();
        };
        mount(actionsEl, resumable ? actionForm('resume-job', { jobId: id }, resumed) : null);
      }
      if (!live(j)) stopped = true; // done or failed: nothing more will move
    } catch (err) {
      if (ctx.alive()) showError(body, err);
    }
  };
  await load();
  ctx.every(1000, load);
}

// Small hand-drawn SVG charts (decision 0143: no chart library). Every label is a text node.
import { h, s } from './dom.js';

/** Colours per command status; anything else is grey. */
export const STATUS_COLOUR: Record<string, string> = {
  succeeded: '#2e7d32',
  running: '#1565c0',
  pending: '#6a8caf',
  waiting: '#6a8caf',
  unknown: '#ef8f00',
  compensating: '#8e24aa',
  compensated: '#7b5e99',
  failed: '#b71c1c',
  needs_attention: '#d81b60',
};
const colour = (status: string) => STATUS_COLOUR[status] ?? '#888';

export interface Bucket {
  /** The bucket's start (ISO time). */
  at: string;
  /** Count per status in the bucket. */
  counts: Record<string, number>;
}

/**
 * Stacked bars of commands by status over time buckets, with a legend.
 *
 * @example
 * statusOverTime(overview.commandsOverTime)
 */
export function statusOverTime(
  buckets: Bucket[],
  width = 560,
  height = 140,
  title = 'Commands by status over time',
): HTMLElement {
  const statuses = [...new Set(buckets.flatMap((b) => Object.keys(b.counts)))].sort();
  const totals = buckets.map((b) => Object.values(b.counts).reduce((x, y) => x + y, 0));
  const max = Math.max(1, ...totals);
  const pad = 22;
  const bw = buckets.length ? (width - pad) / buckets.length : 0;
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height + 16}`,
    width,
    height: height + 16,
    role: 'img',
    class: 'chart',
  });
  svg.append(s('title', {}, title));
  svg.append(s('text', { x: 0, y: 10, class: 'axis' }, String(max)));
  svg.append(s('line', { x1: pad, y1: height, x2: width, y2: height, class: 'axis-line' }));
  buckets.forEach((b, i) => {
    let y = height;
    for (const st of statuses) {
      const n = b.counts[st] ?? 0;
      if (!n) continue;
      const bh = (n / max) * (height - 12);
      y -= bh;
      const r = s('rect', {
        x: pad + i * bw + 1,
        y,
        width: Math.max(1, bw - 2),
        height: bh,
        fill: colour(st),
        'data-status': st,
      });
      r.append(s('title', {}, `${b.at}: ${st} ${n}`));
      svg.append(r);
    }
  });
  const first = buckets[0]?.at;
  const last = buckets[buckets.length - 1]?.at;
  if (first) svg.append(s('text', { x: pad, y: height + 14, class: 'axis' }, shortTime(first)));
  if (last && last !== first)
    svg.append(s('text', { x: width, y: height + 14, class: 'axis', 'text-anchor': 'end' }, shortTime(last)));
  return h(
    'figure',
    { class: 'chart-box' },
    svg,
    h(
      'figcaption',
      { class: 'legend' },
      statuses.map((st) => h('span', { class: 'legend-item' }, swatch(colour(st)), st)),
    ),
  );
}

/** Horizontal bars, one per label (feed lag per consumer, open alerts per kind). */
export function bars(
  rows: { label: string; value: number; note?: string; alarm?: boolean }[],
  unit = '',
  width = 360,
): HTMLElement {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowH = 20;
  const labelW = 140;
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${Math.max(rowH, rows.length * rowH)}`,
    width,
    height: Math.max(rowH, rows.length * rowH),
    role: 'img',
    class: 'chart',
  });
  rows.forEach((r, i) => {
    const y = i * rowH;
    svg.append(s('text', { x: 0, y: y + 14, class: 'label' }, clip(r.label, 20)));
    const w = ((width - labelW - 70) * r.value) / max;
    svg.append(
      s('rect', {
        x: labelW,
        y: y + 3,
        width: Math.max(1, w),
        height: rowH - 6,
        class: r.alarm ? 'bar alarm' : 'bar',
      }),
    );
    svg.append(
      s(
        'text',
        { x: labelW + w + 4, y: y + 14, class: 'value' },
        `${r.value}${unit}${r.note ? ` ${r.note}` : ''}`,
      ),
    );
  });
  if (!rows.length) svg.append(s('text', { x: 0, y: 14, class: 'label' }, 'none'));
  return h('figure', { class: 'chart-box' }, svg);
}

/**
 * A small bar chart of a few values, oldest first (an entity type's findings over its recent checks):
 * zero shows as a thin grey tick, anything above as a red bar scaled to the largest.
 *
 * @example
 * sparkline(result.recent.map((r) => r.findings ?? 0), 'findings per check')
 */
export function sparkline(values: number[], title: string, width = 120, height = 24): HTMLElement {
  const max = Math.max(1, ...values);
  const bw = values.length ? width / values.length : width;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'spark' });
  svg.append(s('title', {}, `${title}: ${values.join(', ')}`));
  values.forEach((v, i) => {
    const bh = v > 0 ? Math.max(3, (v / max) * (height - 2)) : 1;
    svg.append(
      s('rect', {
        x: i * bw + 1,
        y: height - bh,
        width: Math.max(1, bw - 2),
        height: bh,
        class: v > 0 ? 'bar alarm' : 'bar zero',
        'data-value': v,
      }),
    );
  });
  return h('span', { class: 'spark-box', 'data-values': values.join(',') }, svg);
}

/**
 * A progress bar (jobs): `done` of `total`, with the figure as text and in data attributes for tests.
 *
 * @example
 * progress(job.done, job.total, job.status)
 */
export function progress(done: number, total: number, status: string): HTMLElement {
  const pct = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : status === 'done' ? 100 : 0;
  return h(
    'div',
    {
      class: `progress status-${status}`,
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': pct,
      'data-status': status,
    },
    fill(pct),
    h('span', { class: 'progress-text' }, `${done} / ${total} (${pct}%) ${status}`),
  );
}

// Inline styles through the CSSOM: the page's Content-Security-Policy refuses style attributes.
function swatch(c: string): HTMLElement {
  const i = h('i');
  i.style.background = c;
  return i;
}

function fill(pct: number): HTMLElement {
  const d = h('div', { class: 'progress-fill' });
  d.style.width = `${pct}%`;
  return d;
}

function clip(t: string, n: number): string {
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

function shortTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(11, 16);
}

// Feed: consumers (relays and sinks among them) with their positions, lag in entries and seconds, and lease.
import { get } from '../api.js';
import { bars } from '../charts.js';
import { h, mount } from '../dom.js';
import { duration, time } from '../format.js';
import type { FeedConsumer } from '../types.js';
import { showError, type ViewContext } from '../view.js';

export async function feed(ctx: ViewContext): Promise<void> {
  const body = h('div', { id: 'feed' });
  mount(ctx.el, h('h1', null, 'Feed'), body);
  const load = async () => {
    try {
      const f = await get<{ at: string; consumers: FeedConsumer[] }>('feed');
      if (!ctx.alive()) return;
      mount(
        body,
        h(
          'p',
          { class: 'muted' },
          `As of ${time(f.at)}. Relays and sinks are consumers too, under their names.`,
        ),
        bars(
          f.consumers.map((c) => ({
            label: c.name,
            value: c.lagEntries ?? 0,
            alarm: (c.lagSeconds ?? 0) > 60,
          })),
          ' entries',
        ),
        f.consumers.length
          ? h(
              'table',
              { class: 'list', id: 'consumers' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  [
                    'name',
                    'source',
                    'types',
                    'delivered',
                    'position',
                    'lag',
                    'oldest undelivered',
                    'lease',
                    'updated',
                  ].map((t) => h('th', null, t)),
                ),
              ),
              h(
                'tbody',
                null,
                f.consumers.map((c) =>
                  h(
                    'tr',
                    { 'data-name': c.name },
                    h('td', null, c.name),
                    h('td', null, c.source),
                    h('td', null, c.entityTypes?.join(', ') ?? 'all'),
                    h('td', { class: 'num' }, String(c.delivered ?? '')),
                    h('td', { class: 'mono' }, c.position?.snapshot ?? ''),
                    h('td', { class: 'num' }, String(c.lagEntries ?? '')),
                    h('td', { class: 'num' }, c.lagSeconds === null ? '' : duration(c.lagSeconds * 1000)),
                    h('td', null, c.leaseOwner ? `${c.leaseOwner} until ${time(c.leaseUntil)}` : ''),
                    h('td', null, time(c.updatedAt)),
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No feed consumer.'),
      );
    } catch (err) {
      if (ctx.alive()) showError(body, err);
    }
  };
  await load();
  ctx.every(3000, load);
}

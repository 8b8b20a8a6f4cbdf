import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTally } from '../../src/tally.js';
import { testClock } from '../commands/support/redeem.js';
import { freshMariadb, mariadbAvailable, type TestDatabase } from '../support/databases.js';
import { memoryTracing } from './support/otel.js';

// The worker's traced drive links to the head request on MariaDB too (decision 0140): the claim returns
// the stored trace context, so the link needs no statement of its own (there was a PostgreSQL-only one).
describe.skipIf(!mariadbAvailable)('a traced worker drive links back to its submit [mariadb]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshMariadb();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the drive span links to the submit span whose traceparent the command stored', async () => {
    const clock = testClock();
    const { exporter, tracer } = memoryTracing();
    const tally = await createTally({ db: t.db, clock: clock.now, observe: { tracing: tracer } });
    await tally.migrate();
    let refuse = 1;
    const cmd = tally.command<{ user: string }>('redeem', {
      fingerprint: (i) => ({ user: i.user }),
      retry: { baseMs: 1000, maxMs: 1000 },
      steps: [
        { name: 'deduct', run: async () => ({ left: 90 }) },
        {
          name: 'issue',
          call: {
            breaker: false, // breakers are not on MySQL yet
            request: (ctx) => ({ user: ctx.input.user }),
            send: async () => {
              if (refuse-- > 0) throw new Error('downstream answered 503');
              return { prize: 'P-1' };
            },
          },
        },
      ],
    });
    const r = await cmd.submit({ key: 'k1', principal: 'u1', input: { user: 'u1' } });
    expect(r.status).toBe('pending');
    clock.advance(5_000);
    const round = await tally.worker({ id: 'w1' }).runOnce();
    expect(round).toMatchObject({ claimed: 1, errors: 0 });
    expect(round.results[0]!.status).toBe('succeeded');

    const spans = exporter.getFinishedSpans();
    const submit = one(spans.filter((s) => s.name === 'tally.submit redeem'));
    const drive = one(spans.filter((s) => s.name === 'tally.drive redeem'));
    expect(drive.spanContext().traceId).not.toBe(submit.spanContext().traceId);
    expect(drive.links.map((l) => l.context.spanId)).toEqual([submit.spanContext().spanId]);
    expect(drive.links[0]!.context.traceId).toBe(submit.spanContext().traceId);
  });
});

function one(spans: ReadableSpan[]): ReadableSpan {
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

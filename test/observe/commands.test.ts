import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTally, type Tally } from '../../src/tally.js';
import { testClock } from '../commands/support/redeem.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { memoryTracing } from './support/otel.js';

// Metrics and traces over real work on PGlite (decision 0140): a command whose call is refused once (503)
// and finished by the worker later; the fake downstream records the traceparent each request carried.
describe('metrics and traces of commands and the worker', () => {
  let t: TestDatabase;
  let server: Server;
  let url: string;
  const seen: (string | null)[] = [];
  let refuse = 1;

  beforeAll(async () => {
    t = await freshPGlite();
    server = createServer((req, res) => {
      seen.push((req.headers.traceparent as string | undefined) ?? null);
      req.resume();
      req.on('end', () => {
        if (refuse > 0) {
          refuse--;
          res.writeHead(503).end();
        } else res.writeHead(200, { 'content-type': 'application/json' }).end('{"prize":"P-1"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/issue`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await t.close();
  });

  function declare(tally: Tally, name: string) {
    return tally.command<{ user: string }>(name, {
      fingerprint: (i) => ({ user: i.user }),
      retry: { baseMs: 1000, maxMs: 1000 },
      steps: [
        { name: 'deduct', run: async () => ({ left: 90 }) },
        {
          name: 'issue',
          call: {
            request: (ctx) => ({ user: ctx.input.user }),
            send: async (req, meta) => {
              const headers: Record<string, string> = { 'content-type': 'application/json' };
              if (meta.traceparent) headers.traceparent = meta.traceparent;
              const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(req) });
              if (!r.ok) throw new Error(`downstream answered ${r.status}`);
              return r.json();
            },
          },
        },
      ],
    });
  }

  it('works with neither peer configured: no traceparent, nothing stored, metrics() refused', async () => {
    const clock = testClock();
    const tally = await createTally({ db: t.db, clock: clock.now });
    await tally.migrate();
    const cmd = declare(tally, 'plain');
    refuse = 0;
    seen.length = 0;
    const r = await cmd.submit({ key: 'k0', principal: 'u0', input: { user: 'u0' } });
    expect(r.status).toBe('succeeded');
    expect(seen).toEqual([null]);
    const [row] = await t.db.query<{ trace_context: string | null }>({
      text: `SELECT trace_context FROM tally.commands WHERE id = $1`,
      values: [r.id],
    });
    expect(row!.trace_context).toBeNull();
    expect(() => tally.metrics()).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(tally.config.observer.on).toBe(false);
  });

  it('counts, times and traces a submit, its steps, its calls and the worker retry that links back', async () => {
    const clock = testClock();
    const { exporter, tracer } = memoryTracing();
    const registry = new Registry();
    const tally = await createTally({
      db: t.db,
      clock: clock.now,
      observe: { metrics: registry, tracing: tracer },
    });
    expect(tally.metrics()).toBe(registry);
    const cmd = declare(tally, 'redeem');
    refuse = 1;
    seen.length = 0;

    const r = await cmd.submit({ key: 'k1', principal: 'u1', input: { user: 'u1' } });
    expect(r.status).toBe('pending'); // the 503: outcome unknown, the worker re-sends
    clock.advance(5_000);
    const round = await tally.worker({ id: 'w1' }).runOnce();
    expect(round.claimed).toBe(1);
    expect(round.results[0]!.status).toBe('succeeded');

    // Spans: submit > step, send; worker round > drive (linked to the submit) > send.
    const spans = exporter.getFinishedSpans();
    const byName = (n: string) => spans.filter((s) => s.name === n);
    const submit = one(byName('tally.submit redeem'));
    const [send1, send2] = byName('tally.send issue');
    const step = one(byName('tally.step deduct'));
    const drive = one(byName('tally.drive redeem'));
    const roundSpan = one(byName('tally.worker.round'));
    expect(parentOf(step)).toBe(submit.spanContext().spanId);
    expect(parentOf(send1!)).toBe(submit.spanContext().spanId);
    expect(send1!.kind).toBe(SpanKind.CLIENT);
    expect(send1!.attributes['peer.service']).toBeDefined();
    expect(send1!.attributes['tally.call.outcome']).toBe('unknown');
    expect(parentOf(drive)).toBe(roundSpan.spanContext().spanId);
    expect(parentOf(send2!)).toBe(drive.spanContext().spanId);
    expect(send2!.attributes['tally.call.outcome']).toBe('success');
    expect(drive.spanContext().traceId).not.toBe(submit.spanContext().traceId);
    expect(drive.links.map((l) => l.context.spanId)).toEqual([submit.spanContext().spanId]);
    expect(drive.links[0]!.context.traceId).toBe(submit.spanContext().traceId);

    // The head request's context is stored on the command; each request carried its send span's.
    const [row] = await t.db.query<{ trace_context: string | null }>({
      text: `SELECT trace_context FROM tally.commands WHERE id = $1`,
      values: [r.id],
    });
    expect(row!.trace_context).toBe(tp(submit));
    expect(seen).toEqual([tp(send1!), tp(send2!)]);

    // Metrics after that known work.
    const v = async (name: string, labels: Record<string, string> = {}) => {
      const base = name.replace(/_count$/, '');
      const m = (await registry.getSingleMetric(base)!.get()).values;
      const hit = m.filter(
        (x) =>
          (base === name || (x as { metricName?: string }).metricName === name) &&
          Object.entries(labels).every(([k, val]) => x.labels[k] === val),
      );
      return hit.reduce((a, x) => a + x.value, 0);
    };
    expect(await v('tally_command_submits_total', { type: 'redeem', outcome: 'pending' })).toBe(1);
    expect(await v('tally_commands_total', { type: 'redeem', outcome: 'succeeded' })).toBe(1);
    expect(await v('tally_command_calls_total', { step: 'issue', outcome: 'unknown' })).toBe(1);
    expect(await v('tally_command_calls_total', { step: 'issue', outcome: 'success' })).toBe(1);
    expect(await v('tally_command_submit_seconds_count', { type: 'redeem' })).toBe(1);
    expect(await v('tally_command_step_seconds_count', { step: 'deduct', kind: 'local' })).toBe(1);
    expect(await v('tally_command_step_seconds_count', { step: 'issue', kind: 'send' })).toBe(2);
    expect(await v('tally_worker_rounds_total')).toBe(1);
    expect(await v('tally_worker_claims_total')).toBe(1);

    // needs_attention and open alerts are read from the database when scraped.
    await t.db.exec(`UPDATE tally.commands SET status = 'needs_attention' WHERE key = 'k0';
      INSERT INTO tally.command_alerts (command_type, kind, message, at) VALUES ('plain', 'test', 'look', now())`);
    const text = await registry.metrics();
    expect(text).toContain('tally_commands_needs_attention{type="plain"} 1');
    expect(text).toContain('tally_alerts_open{type="plain"} 1');
    expect(text).toMatch(/tally_commands_total\{type="redeem",outcome="succeeded"\} 1/);
  });
});

function one(spans: ReadableSpan[]): ReadableSpan {
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

function parentOf(s: ReadableSpan): string | undefined {
  return s.parentSpanContext?.spanId;
}

function tp(s: ReadableSpan): string {
  return `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`;
}

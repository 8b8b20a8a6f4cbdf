import * as v from 'valibot';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import type { StandardSchemaV1 } from '../../src/commands/standard-schema.js';
import type { Executor } from '../../src/db/types.js';
import { isTallyError, type TallyError } from '../../src/errors.js';
import { createTally, type Tally } from '../../src/tally.js';
import { describeEachDialect, freshPGlite, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';

/** What the submit threw (a test fails if it did not throw). */
async function refusal(p: Promise<unknown>): Promise<TallyError> {
  const err = await p.then(
    () => new Error('the submit was not refused'),
    (e: unknown) => e,
  );
  if (!isTallyError(err)) throw err;
  return err;
}

const pathsOf = (err: TallyError) =>
  ((err.details?.issues ?? []) as { path: string; message: string }[]).map((i) => i.path).sort();

/** Rows the command type has in Tally's tables: nothing at all may be recorded for a refused input. */
async function recorded(db: Executor, type: string) {
  return {
    commands: await count(db, 'SELECT 1 FROM tally.commands WHERE type = $1', [type]),
    events: await count(
      db,
      'SELECT 1 FROM tally.command_events e JOIN tally.commands c ON c.id = e.command_id WHERE c.type = $1',
      [type],
    ),
  };
}

async function storedInput(db: Executor, type: string, key: string): Promise<unknown> {
  const [row] = await db.query<{ input: string }>({
    text: 'SELECT input::text AS input FROM tally.commands WHERE type = $1 AND key = $2',
    values: [type, key],
  });
  return row ? JSON.parse(row.input) : undefined;
}

const NOTHING = { commands: 0, events: 0 };

describeEachDialect('commands: input schemas refuse bad input before anything is recorded', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  beforeAll(async () => {
    t = await fresh();
    tally = await createTally({ db: t.db });
    await tally.migrate();
  });
  afterAll(() => t.close());

  it('zod: refused with every failing path, nothing recorded; the schema output is run, stored and fingerprinted', async () => {
    const seen: unknown[] = [];
    const redeem = tally.command('z_redeem', {
      input: z.object({
        user: z.string().trim().toLowerCase().min(1),
        prize: z.enum(['mug', 'hoodie']),
        qty: z.number().int().min(1).max(10),
        note: z.string().default(''),
      }),
      fingerprint: (i) => ({ user: i.user, prize: i.prize, qty: i.qty }),
      steps: [
        {
          name: 'take',
          run: (ctx) => {
            seen.push(ctx.input);
            return { qty: ctx.input.qty };
          },
        },
      ],
    });
    for (const [input, paths] of [
      [{ user: 'ann', prize: 'car', qty: 1.5 }, ['$.prize', '$.qty']],
      [{ user: 'ann', qty: -50 }, ['$.prize', '$.qty']],
      [{ user: '', prize: 'mug', qty: 2147483648 }, ['$.qty', '$.user']],
      [undefined, ['$']],
      ['qty=1', ['$']],
    ] as const) {
      const err = await refusal(redeem.submit({ key: 'z1', principal: 'p', input: input as never }));
      expect([err.code, pathsOf(err)]).toEqual(['INVALID_COMMAND_INPUT', paths]);
    }
    expect(await recorded(t.db, 'z_redeem')).toEqual(NOTHING);
    expect(seen).toEqual([]);

    const ok = await redeem.submit({
      key: 'z1',
      principal: 'p',
      input: { user: '  Ann ', prize: 'mug', qty: 2, extra: 'dropped' } as never,
    });
    expect(ok).toMatchObject({ status: 'succeeded', replayed: false, result: { qty: 2 } });
    const output = { user: 'ann', prize: 'mug', qty: 2, note: '' };
    expect(seen).toEqual([output]);
    expect(await storedInput(t.db, 'z_redeem', 'z1')).toEqual(output);
    // The fingerprint is of the output: another spelling of the same output is the same request.
    const again = await redeem.submit({
      key: 'z1',
      principal: 'p',
      input: { user: 'ANN', prize: 'mug', qty: 2 },
    });
    expect(again).toMatchObject({ id: ok.id, replayed: true });
    const changed = await refusal(
      redeem.submit({ key: 'z1', principal: 'p', input: { user: 'ann', prize: 'mug', qty: 3 } }),
    );
    expect(changed.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('valibot: refused with the failing paths, nothing recorded; valid input runs', async () => {
    const take = tally.command('v_take', {
      input: v.object({
        user: v.pipe(v.string(), v.minLength(1)),
        qty: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10)),
        tags: v.array(v.string()),
      }),
      fingerprint: (i) => ({ user: i.user, qty: i.qty }),
      steps: [{ name: 'take', run: (ctx) => ({ qty: ctx.input.qty, tags: ctx.input.tags.length }) }],
    });
    const err = await refusal(
      take.submit({ key: 'v1', principal: 'p', input: { user: 'u', qty: 0, tags: ['a', 7] } as never }),
    );
    expect([err.code, pathsOf(err)]).toEqual(['INVALID_COMMAND_INPUT', ['$.qty', '$.tags[1]']]);
    expect(await recorded(t.db, 'v_take')).toEqual(NOTHING);
    const ok = await take.submit({ key: 'v1', principal: 'p', input: { user: 'u', qty: 3, tags: ['a'] } });
    expect(ok).toMatchObject({ status: 'succeeded', result: { qty: 3, tags: 1 } });
    expect(await recorded(t.db, 'v_take')).toMatchObject({ commands: 1 });
  });

  it('JSON Schema: refused with the failing paths and messages, nothing recorded; valid input runs', async () => {
    const take = tally.command<{ user: string; prize: string; qty: number }>('j_take', {
      input: {
        type: 'object',
        required: ['user', 'prize', 'qty'],
        additionalProperties: false,
        properties: {
          user: { type: 'string', minLength: 1, maxLength: 40, pattern: '^[a-z0-9_-]+$' },
          prize: { enum: ['mug', 'hoodie', 'sticker'] },
          qty: { type: 'integer', exclusiveMinimum: 0, maximum: 10 },
        },
      },
      fingerprint: (i) => ({ user: i.user, qty: i.qty }),
      steps: [{ name: 'take', run: (ctx) => ({ qty: ctx.input.qty }) }],
    });
    const err = await refusal(
      take.submit({ key: 'j1', principal: 'p', input: { user: 'A B', qty: 1.5, bonus: 1 } as never }),
    );
    expect(err.code).toBe('INVALID_COMMAND_INPUT');
    expect(err.details?.issues).toEqual([
      { path: '$.prize', message: 'is required' },
      { path: '$.user', message: 'must match the pattern ^[a-z0-9_-]+$' },
      { path: '$.qty', message: 'must be an integer' },
      { path: '$.bonus', message: 'is not allowed' },
    ]);
    for (const qty of [-50, 0, -5, 2147483648]) {
      const e = await refusal(
        take.submit({ key: 'j1', principal: 'p', input: { user: 'u', prize: 'mug', qty } }),
      );
      expect([e.code, pathsOf(e)]).toEqual(['INVALID_COMMAND_INPUT', ['$.qty']]);
    }
    expect(await recorded(t.db, 'j_take')).toEqual(NOTHING);
    const ok = await take.submit({ key: 'j1', principal: 'p', input: { user: 'u', prize: 'mug', qty: 2 } });
    expect(ok).toMatchObject({ status: 'succeeded', result: { qty: 2 } });
  });

  it('a change command and a command with a failover store refuse bad input before either store sees it', async () => {
    await t.db.exec(`CREATE TABLE inp_acct (id integer PRIMARY KEY, state text NOT NULL DEFAULT 'open',
      version integer NOT NULL DEFAULT 0, points bigint NOT NULL)`);
    const accounts = tally.entity('inp_acct', {
      table: 'inp_acct',
      states: { open: ['closed'], closed: [] },
    });
    await accounts.create({ rows: [{ id: 1, state: 'open', points: 100 }], actor: 'seed' });
    const logRows = await count(t.db, 'SELECT 1 FROM tally.log');
    const debit = tally.command('inp_debit', {
      input: z.object({ account: z.number().int(), amount: z.number().int().positive().max(50) }),
      fingerprint: (i) => i,
      change: { entity: accounts, key: (i) => i.account, add: { points: (i) => -i.amount } },
    });
    for (const amount of [-50, 0, 1.5]) {
      const err = await refusal(
        debit.submit({ key: `d${amount}`, principal: 'p', input: { account: 1, amount } }),
      );
      expect([err.code, pathsOf(err)]).toEqual(['INVALID_COMMAND_INPUT', ['$.amount']]);
    }
    expect(await recorded(t.db, 'inp_debit')).toEqual(NOTHING);
    expect(await count(t.db, 'SELECT 1 FROM tally.log')).toBe(logRows);
    expect(await debit.submit({ key: 'd1', principal: 'p', input: { account: 1, amount: 5 } })).toMatchObject(
      {
        status: 'succeeded',
      },
    );
    const [row] = await t.db.query<{ points: string }>({ text: 'SELECT points FROM inp_acct WHERE id = 1' });
    expect(Number(row!.points)).toBe(95);

    const secondary = await freshPGlite();
    try {
      await (await createTally({ db: secondary.db })).migrate();
      const fo = tally.command('inp_failover', {
        input: z.object({ qty: z.number().int().positive() }),
        fingerprint: (i) => i,
        steps: [{ name: 'take', run: (ctx) => ctx.input }],
        failover: { db: secondary.db },
      });
      const err = await refusal(fo.submit({ key: 'f1', principal: 'p', input: { qty: -5 } }));
      expect([err.code, pathsOf(err)]).toEqual(['INVALID_COMMAND_INPUT', ['$.qty']]);
      expect(await recorded(t.db, 'inp_failover')).toEqual(NOTHING);
      expect(await count(secondary.db, 'SELECT 1 FROM tally.command_intake')).toBe(0);
      expect(await fo.submit({ key: 'f1', principal: 'p', input: { qty: 5 } })).toMatchObject({
        status: 'succeeded',
        result: { qty: 5 },
      });
    } finally {
      await secondary.close();
    }
  });

  it('hostile input and throwing validators are INVALID_COMMAND_INPUT, never a raw error', async () => {
    type Tree = { child?: Tree };
    const tree: z.ZodType<Tree> = z.lazy(() => z.object({ child: tree.optional() }));
    const deep = tally.command('h_deep', {
      input: tree,
      fingerprint: () => 'one',
      steps: [{ name: 'take', run: () => 'ok' }],
    });
    let nested: Tree = {};
    for (let i = 0; i < 100_000; i++) nested = { child: nested };
    // Refused by the command's depth limit before the validator walks it (decision 0029).
    const e1 = await refusal(deep.submit({ key: 'h1', principal: 'p', input: nested }));
    expect([e1.code, e1.details]).toEqual(['INVALID_COMMAND_INPUT', { limit: 'depth', max: 64 }]);

    const many = tally.command('h_many', {
      input: { type: 'array', items: { type: 'integer', minimum: 0 } },
      fingerprint: () => 'one',
      steps: [{ name: 'take', run: () => 'ok' }],
    });
    const e2 = await refusal(
      many.submit({ key: 'h2', principal: 'p', input: Array.from({ length: 1_000_000 }, () => -1) }),
    );
    expect(e2.code).toBe('INVALID_COMMAND_INPUT');
    expect(e2.details?.issues).toHaveLength(50);
    expect(e2.details?.truncated).toBe(true);

    const throwing = tally.command('h_throw', {
      input: {
        '~standard': {
          version: 1,
          vendor: 'test',
          validate: () => {
            throw new Error('validator bug');
          },
        },
      } as StandardSchemaV1<unknown, unknown>,
      fingerprint: () => 'one',
      steps: [{ name: 'take', run: () => 'ok' }],
    });
    const e3 = await refusal(throwing.submit({ key: 'h3', principal: 'p', input: {} }));
    expect([e3.code, e3.details?.issues]).toEqual([
      'INVALID_COMMAND_INPUT',
      [{ path: '$', message: 'could not be validated' }],
    ]);

    // Any Standard Schema validator, also one that answers asynchronously.
    const asyncSchema = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: async (value: unknown) => {
          const code = (value as { code?: unknown } | null)?.code;
          return typeof code === 'string' && code.startsWith('ok')
            ? { value: { code: code.toUpperCase() } }
            : { issues: [{ message: 'must start with ok', path: [{ key: 'code' }] }] };
        },
        types: undefined as unknown as { input: { code: string }; output: { code: string } },
      },
    };
    const asyncCmd = tally.command('h_async', {
      input: asyncSchema,
      fingerprint: (i) => ({ code: i.code }),
      steps: [{ name: 'take', run: (ctx) => ({ lower: ctx.input.code.toLowerCase() }) }],
    });
    const e4 = await refusal(asyncCmd.submit({ key: 'h4', principal: 'p', input: { code: 'nope' } }));
    expect([e4.code, e4.details?.issues]).toEqual([
      'INVALID_COMMAND_INPUT',
      [{ path: '$.code', message: 'must start with ok' }],
    ]);
    expect(await asyncCmd.submit({ key: 'h4', principal: 'p', input: { code: 'ok go' } })).toMatchObject({
      status: 'succeeded',
      result: { lower: 'ok go' },
    });
    expect(await storedInput(t.db, 'h_async', 'h4')).toEqual({ code: 'OK GO' });
    for (const type of ['h_deep', 'h_many', 'h_throw']) expect(await recorded(t.db, type)).toEqual(NOTHING);
  });
});

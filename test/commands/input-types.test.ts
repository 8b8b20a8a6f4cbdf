// Type-level: the command's input type comes from its schema, with no type argument. These assertions are
// checked by `npm run typecheck` (tsc); at run time the test only declares the commands.
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { Command } from '../../src/commands/command.js';
import type { StepContext } from '../../src/commands/definition.js';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { createTally, type Tally } from '../../src/tally.js';

describe('commands: the input type is inferred from the input schema', () => {
  let db: Executor;
  let tally: Tally;
  beforeAll(async () => {
    db = await pglite();
    tally = await createTally({ db });
  });
  afterAll(() => db.close());

  it('zod: fingerprint, steps, compensate and result see the output type; submit takes the input type', () => {
    const redeem = tally.command('t_zod', {
      input: z.object({ user: z.string(), qty: z.number().int(), note: z.string().default('') }),
      fingerprint: (i) => {
        expectTypeOf(i).toEqualTypeOf<{ user: string; qty: number; note: string }>();
        return { user: i.user, qty: i.qty };
      },
      steps: [
        {
          name: 'deduct',
          run: (ctx) => {
            expectTypeOf(ctx.input.qty).toEqualTypeOf<number>();
            expectTypeOf(ctx.input.note).toEqualTypeOf<string>();
            return null;
          },
        },
      ],
      compensate(ctx) {
        expectTypeOf(ctx).toEqualTypeOf<StepContext<{ user: string; qty: number; note: string }>>();
      },
      result: (_outputs, i) => i.user,
    });
    expectTypeOf(redeem).toEqualTypeOf<
      Command<
        { user: string; qty: number; note: string },
        unknown,
        { user: string; qty: number; note?: string | undefined }
      >
    >();
    // @ts-expect-error qty must be a number
    void (() => redeem.submit({ key: 'k', principal: 'p', input: { user: 'u', qty: '1' } }));
  });

  it('valibot, and a change command', () => {
    const c = tally.command('t_valibot', {
      input: v.object({ id: v.number(), tags: v.array(v.string()) }),
      fingerprint: (i) => ({ id: i.id, n: i.tags.length }),
      steps: [{ name: 'a', run: (ctx) => ctx.input.tags.join(',') }],
    });
    expectTypeOf(c).toEqualTypeOf<
      Command<{ id: number; tags: string[] }, unknown, { id: number; tags: string[] }>
    >();
    tally.command('t_typo', {
      input: z.object({ id: z.number() }),
      // @ts-expect-error the schema has no field `account`
      fingerprint: (i) => i.account,
      steps: [{ name: 'a', run: () => null }],
    });
  });

  it('JSON Schema: unknown unless a type argument says otherwise', () => {
    const loose = tally.command('t_json', {
      input: { type: 'object', properties: { qty: { type: 'integer' } } },
      fingerprint: (i) => {
        expectTypeOf(i).toEqualTypeOf<unknown>();
        return i;
      },
      steps: [{ name: 'a', run: () => null }],
    });
    expectTypeOf(loose).toEqualTypeOf<Command<unknown, unknown>>();
    const typed = tally.command<{ qty: number }>('t_json_typed', {
      input: { type: 'object', required: ['qty'], properties: { qty: { type: 'integer' } } },
      fingerprint: (i) => ({ qty: i.qty }),
      steps: [{ name: 'a', run: (ctx) => ctx.input.qty }],
    });
    expectTypeOf(typed).toEqualTypeOf<Command<{ qty: number }>>();
    expect(() =>
      // @ts-expect-error `format` is not in the supported subset (refused at run time too)
      tally.command('t_json_bad', {
        input: { type: 'string', format: 'email' },
        fingerprint: (i) => i,
        steps: [{ name: 'a', run: () => null }],
      }),
    ).toThrow(/format/);
  });
});

// Commands against the downstream in a real browser (Chromium through playwright-core) against a real console
// server on a real Tally (PGlite): C crashed before it recorded a prize, so the command waits for a person and
// C has nothing; the dry run in the Reconcile view shows the mismatch and its re-drive plan, the operator
// re-drives it with a name and a reason, the worker sends the request again, and the re-check is clean.
// CONSOLE_SCREENSHOTS=1 also writes the docs' screenshot of the dry run (docs/console/reconcile-downstream.png).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import type { DownstreamRecord } from '../../src/reconcile/commands/types.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { browserSkipReason, launchChromium } from '../examples/points-redemption/browser.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { buildConsole, pageErrors } from './browser-setup.js';

const SHOT = process.env.CONSOLE_SCREENSHOTS === '1';
const SHOT_FILE = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/console'),
  'reconcile-downstream.png',
);
const title = `commands <-> downstream in Chromium${browserSkipReason ? ` — SKIPPED: ${browserSkipReason}` : ''}`;

describe.skipIf(browserSkipReason !== undefined)(title, () => {
  let t: TestDatabase;
  let fx: RedeemFixture;
  let server: ConsoleServer;
  let browser: Browser;
  let built: ReturnType<typeof buildConsole>;
  let strandedId: string;

  beforeAll(async () => {
    built = buildConsole();
    [t, browser] = await Promise.all([freshPGlite(), launchChromium()]);
    fx = await redeemFixture(t.db, 'bd', { maxAttempts: 1 });
    const input = { user: 'u1', prize: 'mug', qty: 1 };
    expect((await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input })).status).toBe('succeeded');
    fx.prizes.faults.crashNext = 1;
    const stranded = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(stranded.status).toBe('needs_attention');
    strandedId = stranded.id;
    const lookup = async (keys: readonly string[]): Promise<DownstreamRecord[]> =>
      keys.map((key) => ({ key, outcome: fx.prizes.issued.has(key) ? 'success' : 'not_found' }));
    server = await startConsoleServer({
      db: t.db,
      port: 0,
      consoleDir: built.dir,
      tally: fx.tally,
      downstreams: [{ name: 'prizes', types: ['bd_redeem'], source: { lookup } }],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.close();
    built?.remove();
  });

  it('the dry run shows the mismatch, the operator re-drives it with a reason, the worker resends, the re-check is clean', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    const errors = pageErrors(page);
    await page.goto(`${server.url}/#/reconcile`);
    const run = page.locator('#downstream-run');
    await run.waitFor({ timeout: 15_000 });
    await run.locator('select[name="downstream"]').selectOption('prizes');
    await run.locator('select[name="type"]').selectOption('bd_redeem');
    await run.locator('select[name="scope"]').selectOption('all');
    await run.locator('button[type="submit"]').click();

    const verdict = page.locator('#downstream-verdict');
    await expect.poll(() => verdict.getAttribute('data-ok'), { timeout: 15_000 }).toBe('false');
    const row = page.locator('#differences tr[data-kind="upstream_unknown_downstream_missing"]');
    expect(await row.getAttribute('data-plan')).toBe('redrive');
    expect(await row.locator('a').getAttribute('href')).toBe(`#/commands/${strandedId}`);
    if (SHOT) await page.locator('#downstream-check').screenshot({ path: SHOT_FILE });

    const form = page.locator('form[data-action="redrive"]');
    const button = form.locator('button[data-action="redrive"]');
    await form.locator('input[name="actor"]').fill('ops:dana');
    expect(await button.isDisabled()).toBe(true); // a reason is required
    await form.locator('input[name="reason"]').fill('INC-14: C lost the request, send it again');
    await button.click();
    // The view checks again after the action: the command is back with the worker (pending, due now).
    await expect
      .poll(() => row.locator('[data-status]').getAttribute('data-status'), { timeout: 15_000 })
      .toBe('pending');
    expect(await fx.tally.actions.list({ target: strandedId })).toMatchObject([
      { action: 'redrive', actor: 'ops:dana', reason: 'INC-14: C lost the request, send it again' },
    ]);

    // The worker's next round sends the stored request again; C issues it; the check agrees.
    await fx.tally.worker().runOnce();
    await page.locator('#downstream-run button[type="submit"]').click();
    await expect.poll(() => verdict.getAttribute('data-ok'), { timeout: 15_000 }).toBe('true');
    expect(await page.locator('#differences').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

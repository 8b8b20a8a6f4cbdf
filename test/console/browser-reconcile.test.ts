// Reconcile in a real browser (Chromium through playwright-core) against a real console server on a real
// Tally (PGlite): a row changed with raw SQL around Tally is found by the dry run, the operator repairs it
// with a name and a reason, the re-check is clean, and the entity's history shows the repair entry.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { browserSkipReason, launchChromium } from '../examples/points-redemption/browser.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { buildConsole, pageErrors } from './browser-setup.js';

const title = `reconcile in Chromium${browserSkipReason ? ` — SKIPPED: ${browserSkipReason}` : ''}`;

describe.skipIf(browserSkipReason !== undefined)(title, () => {
  let t: TestDatabase;
  let fx: RedeemFixture;
  let server: ConsoleServer;
  let browser: Browser;
  let built: ReturnType<typeof buildConsole>;

  beforeAll(async () => {
    built = buildConsole();
    [t, browser] = await Promise.all([freshPGlite(), launchChromium()]);
    fx = await redeemFixture(t.db, 'cr', { breaker: false });
    const ok = await fx.redeem.submit({
      key: fx.nextKey(),
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(ok.status).toBe('succeeded');
    server = await startConsoleServer({ db: t.db, port: 0, consoleDir: built.dir, tally: fx.tally });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.close();
    built?.remove();
  });

  it('a raw SQL drift: dry run lists it, the operator repairs it with a reason, the re-check is clean, the history shows the repair', async () => {
    await t.db.exec(`UPDATE cr_accounts SET points = points + 7 WHERE id = 'u1'`);
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    const errors = pageErrors(page);
    await page.goto(`${server.url}/#/reconcile`);
    const run = page.locator('#reconcile-run');
    await run.waitFor({ timeout: 15_000 });
    await run.locator('select[name="entity"]').selectOption('cr_account');
    await run.locator('button[type="submit"]').click();

    const verdict = page.locator('#reconcile-verdict');
    await expect.poll(() => verdict.getAttribute('data-ok'), { timeout: 15_000 }).toBe('false');
    const finding = page.locator('#findings tr[data-kind="row_changed_outside_log"]');
    expect(await finding.locator('td.mono').textContent()).toBe('u1');

    const form = page.locator('form[data-action="repair"]');
    const button = form.locator('button[data-action="repair"]');
    await form.locator('input[name="actor"]').fill('ops:dana');
    expect(await button.isDisabled()).toBe(true); // a reason is required
    await form.locator('input[name="reason"]').fill('INC-12: a hand fix bypassed the log');
    await button.click();
    await expect.poll(() => verdict.getAttribute('data-ok'), { timeout: 15_000 }).toBe('true');
    expect(await page.locator('#findings').count()).toBe(0);

    // The entity explained: its history's newest entry is the repair, with who and why.
    await page.goto(`${server.url}/#/entities/cr_account/u1`);
    const newest = page.locator('.log-entry').first();
    await expect.poll(() => newest.locator('h3').textContent(), { timeout: 15_000 }).toContain('repair');
    expect(await newest.locator('table.facts').textContent()).toContain(
      'INC-12: a hand fix bypassed the log',
    );
    // From the entity, its type's check is one click away, and it stays clean.
    await page.locator('#entity-check').click();
    await expect.poll(() => verdict.getAttribute('data-ok'), { timeout: 15_000 }).toBe('true');
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

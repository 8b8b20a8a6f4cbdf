// The Overview's worker rounds and reconcile results, and an entity's chain check, in a real browser
// (Chromium through playwright-core) against a real console server on a real Tally (PGlite):
// - a worker's rounds (one left its command waiting on a C that was down, the next one succeeded) show as
//   a chart and a row for the worker; two checks of an entity type (clean, then a raw SQL drift) show as
//   its last result and a small chart of its recent findings;
// - an entity's page shows its chain intact, sealed; after a sealed entry is rewritten in the database,
//   the page says which version no longer matches the sealed tree, and after an after image is rewritten,
//   which entry's before image no longer follows.
// CONSOLE_SCREENSHOTS=1 also rewrites docs/console/overview.png.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSealKey } from '../../src/evidence/index.js';
import { sealOnce } from '../../src/evidence/sealer.js';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { browserSkipReason, launchChromium } from '../examples/points-redemption/browser.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { buildConsole, pageErrors } from './browser-setup.js';

const SHOTS = process.env.CONSOLE_SCREENSHOTS === '1';
const SHOT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/console');
const title = `overview figures and chain check in Chromium${browserSkipReason ? ` — SKIPPED: ${browserSkipReason}` : ''}`;

describe.skipIf(browserSkipReason !== undefined)(title, () => {
  let t: TestDatabase;
  let fx: RedeemFixture;
  let server: ConsoleServer;
  let browser: Browser;
  let built: ReturnType<typeof buildConsole>;

  beforeAll(async () => {
    built = buildConsole();
    [t, browser] = await Promise.all([freshPGlite(), launchChromium()]);
    fx = await redeemFixture(t.db, 'bo', { breaker: false });
    // The fixture's clock a minute before the real time: what is recorded lands in the Overview's window.
    fx.clock.advance(Date.now() - 60_000 - fx.clock.now().getTime());
    server = await startConsoleServer({ db: t.db, port: 0, consoleDir: built.dir, tally: fx.tally });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.close();
    built?.remove();
  });

  async function open(hash: string): Promise<{ page: Page; errors: string[] }> {
    const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    const errors = pageErrors(page);
    await page.goto(`${server.url}/${hash}`);
    return { page, errors };
  }

  it('the Overview charts the worker rounds and shows the last reconcile result per entity type', async () => {
    fx.prizes.faults.down = true;
    const r = await fx.redeem.submit({
      key: fx.nextKey(),
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(r.status).toBe('pending');
    const worker = fx.tally.worker({ id: 'worker:bo-1' });
    fx.clock.advance(10_000);
    expect((await worker.runOnce()).claimed).toBe(1);
    fx.prizes.faults.down = false;
    fx.clock.advance(10_000);
    expect((await worker.runOnce()).results[0]?.status).toBe('succeeded');
    expect((await reconcile([fx.accounts])).ok).toBe(true);
    await t.db.exec(`UPDATE bo_accounts SET points = points + 7 WHERE id = 'u1'`);
    expect((await reconcile([fx.accounts])).total).toBe(1);

    const { page, errors } = await open('#/overview');
    const rounds = page.locator('#worker-rounds');
    await rounds.waitFor({ timeout: 15_000 });
    expect(await rounds.getAttribute('data-claimed')).toBe('2');
    expect(await rounds.getAttribute('data-rounds')).toBe('2');
    // The chart stacks how the rounds left the commands: one succeeded, one waiting for its retry.
    expect(await rounds.locator('rect[data-status="succeeded"]').count()).toBeGreaterThan(0);
    expect(await rounds.locator('rect[data-status="waiting"]').count()).toBeGreaterThan(0);
    const row = rounds.locator('#workers tr[data-worker="worker:bo-1"]');
    expect(await row.locator('td').nth(2).textContent()).toBe('2');

    const result = page.locator('#reconcile-results tr[data-entity="bo_account"]');
    expect(await result.getAttribute('data-findings')).toBe('1');
    expect(await result.locator('td.findings').textContent()).toBe('1');
    expect(await result.locator('.spark-box').getAttribute('data-values')).toBe('0,1');
    if (SHOTS) {
      await page.goto(`${server.url}/#/overview?bucket=minute`);
      await page.locator('#worker-rounds').waitFor({ timeout: 15_000 });
      await page.screenshot({ path: join(SHOT_DIR, 'overview.png'), fullPage: true });
    }
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("an entity's page shows its chain check: intact and sealed, then the rewritten entries named", async () => {
    const { page, errors } = await open('#/entities/bo_account/u1');
    const verdict = page.locator('#entity-chain');
    await verdict.waitFor({ timeout: 15_000 });
    expect(await verdict.getAttribute('data-ok')).toBe('true');
    expect(await page.locator('#entity-chain-body table.facts').textContent()).toContain('no sealed tree');

    await sealOnce(fx.tally, { key: generateSealKey(), origin: 'tally browser-chain' });
    await page.reload();
    await verdict.waitFor({ timeout: 15_000 });
    expect(await verdict.getAttribute('data-ok')).toBe('true');
    expect(await verdict.textContent()).toContain('as sealed');

    // A sealed entry rewritten around Tally: its before/after images still chain; the sealed tree does not.
    await t.db.exec(
      `UPDATE tally.log SET reason = 'nothing happened' WHERE entity_type = 'bo_account' AND entity_key = 'u1' AND version = 1`,
    );
    await page.reload();
    await verdict.waitFor({ timeout: 15_000 });
    expect(await verdict.getAttribute('data-ok')).toBe('false');
    const changed = page.locator('#chain-findings tr[data-kind="sealed_changed"]');
    expect(await changed.getAttribute('data-version')).toBe('1');
    // And the type-wide dry run is still one click away.
    expect(await page.locator('#entity-check').getAttribute('href')).toBe('#/reconcile?entity=bo_account');
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

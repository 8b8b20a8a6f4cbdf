import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { runCliInProcess, tempDir } from '../cli/run-cli.js';
import { pendingCommands, writeSetupModule } from '../cli/support/setup-module.js';
import { startReceiver } from './support/receiver.js';

const dir = tempDir();
const data = join(dir, 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('tally worker --alerts-webhook URL delivers the alerts; a bad URL is a usage error', async () => {
  const db = await pglite(data);
  await pendingCommands(db, 1);
  await db.exec(`INSERT INTO tally.command_alerts (command_type, kind, message, at)
                 VALUES ('cli_redeem', 'needs_attention', 'stuck', now())`);
  await db.close();
  writeSetupModule(dir);
  const receiver = await startReceiver();
  try {
    const bad = await runCliInProcess(
      ['worker', '--module', './setup.mjs', '--once', '--alerts-webhook', 'ftp://x', data],
      {},
      dir,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('webhook.url must be http(s)');

    const r = await runCliInProcess(
      ['worker', '--module', './setup.mjs', '--once', '--alerts-webhook', receiver.url, data],
      {},
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('alerts: delivered 1, failed 0 (retried later), skipped 0');
    expect(receiver.received.map((x) => x.body.alert.message)).toEqual(['stuck']);
    const listed = await runCliInProcess(['alerts', 'deliveries', '--json', data], {}, dir);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { status: 'delivered', acked: ['webhook'], attempts: 1, deliveryId: receiver.received[0]!.deliveryId },
    ]);
  } finally {
    await receiver.close();
  }
});

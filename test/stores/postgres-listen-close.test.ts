/**
 * PostgreSQL's unlock listener keeps its idle connection unref'd (it must not keep an app alive):
 * `close()` must still finish when nothing else is left for the process to do. It once stayed
 * pending for ever on Node 20 (the end of an unref'd socket was never reported), which a test
 * runner reports as "Promise resolution is still pending but the event loop has already resolved".
 * Run in a child process, where the close is the last piece of work.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { needService } from '../helpers/services.js';
import { endpoint, postgresUrl } from './sql-quirks.js';

const at = endpoint(postgresUrl, 5432);

describe('PostgreSQL unlock listener', { skip: await needService('PostgreSQL', at.port, at.host) }, () => {
  it('close() finishes after a wait opened the LISTEN connection, with nothing else keeping the process alive', () => {
    const script = `
      const { PostgresStore } = await import(${JSON.stringify(new URL('../../src/stores/postgres/index.ts', import.meta.url).href)});
      const store = new PostgresStore({ connectionString: ${JSON.stringify(postgresUrl)}, tableName: 'baton_listen_close' });
      await store.waitForUnlock('some-key', 200);
      await store.close();
      console.log('closed');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.stdout.trim(), 'closed', `close() did not finish: ${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
  });
});

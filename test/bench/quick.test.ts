/**
 * Smoke test of `npm run bench -- --quick`: the benchmark runs end to end on dynalite and writes
 * results in the documented shape, with baton's call counts and lost-update result. It checks
 * counts, never speed (speed belongs to the benchmark itself, not to CI).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const SCENARIO_KEYS = [
  'appCpuUsPerRequest',
  'capacityUnitsPerRequest',
  'engine',
  'name',
  'p50Ms',
  'p99Ms',
  'reqPerSec',
  'route',
  'storeCallsPerRequest',
  'writesPerRequest',
];

describe('npm run bench -- --quick', () => {
  it('writes results in the documented shape, with baton at 1/2/0 store calls and 50 of 50 updates kept', {
    timeout: 300_000,
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
    try {
      const out = join(dir, 'quick.json');
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], {
        encoding: 'utf8',
        timeout: 280_000,
      });
      assert.equal(run.status, 0, `the quick bench failed:\n${run.stdout}\n${run.stderr}`);
      const results = JSON.parse(readFileSync(out, 'utf8'));

      assert.deepEqual(Object.keys(results).sort(), ['lostUpdates', 'machine', 'scenarios', 'versions']);
      assert.equal(typeof results.machine, 'object');
      assert.equal(typeof results.versions['baton-session'], 'string');
      assert.ok(results.scenarios.length >= 8, 'every DynamoDB scenario reports read and write');
      for (const s of results.scenarios) {
        assert.deepEqual(Object.keys(s).sort(), SCENARIO_KEYS, `${s.name} ${s.route}`);
        assert.ok(['dynamodb', 'redis', 'memory'].includes(s.engine));
        assert.ok(['read', 'write', 'new'].includes(s.route));
        for (const k of [
          'reqPerSec',
          'p50Ms',
          'p99Ms',
          'storeCallsPerRequest',
          'writesPerRequest',
          'appCpuUsPerRequest',
        ]) {
          assert.equal(typeof s[k], 'number', `${s.name} ${s.route} ${k}`);
          assert.ok(s[k] >= 0, `${s.name} ${s.route} ${k}`);
        }
        assert.ok(s.reqPerSec > 0, `${s.name} ${s.route} served requests`);
        assert.ok(s.capacityUnitsPerRequest === null || typeof s.capacityUnitsPerRequest === 'number');
      }
      const names = new Set(results.scenarios.map((s: { name: string }) => s.name));
      for (const name of [
        'baton',
        'baton-sdk',
        'connect-dynamodb',
        'dynamodb-store',
        'floor',
        'floor-lite',
      ]) {
        assert.ok(names.has(name), `scenario ${name} ran`);
      }

      const baton = (route: string) =>
        results.scenarios.find(
          (s: { name: string; engine: string; route: string }) =>
            s.name === 'baton' && s.engine === 'dynamodb' && s.route === route,
        );
      assert.equal(baton('read').storeCallsPerRequest, 1);
      assert.equal(baton('read').writesPerRequest, 0);
      assert.ok(baton('read').capacityUnitsPerRequest <= 1);
      assert.equal(baton('write').storeCallsPerRequest, 2);
      assert.equal(baton('write').writesPerRequest, 1);
      assert.equal(baton('new').storeCallsPerRequest, 0);

      for (const l of results.lostUpdates) {
        assert.deepEqual(Object.keys(l).sort(), ['engine', 'kept', 'name', 'of']);
      }
      const lost = results.lostUpdates.find(
        (l: { name: string; engine: string }) => l.name === 'baton' && l.engine === 'dynamodb',
      );
      assert.deepEqual({ kept: lost.kept, of: lost.of }, { kept: 50, of: 50 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

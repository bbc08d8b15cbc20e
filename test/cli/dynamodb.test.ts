/**
 * `baton` against `baton local --memory` (the run's engine in its own process on a free loopback
 * port; on DynamoDB Local the run's shared engine where there is one), as
 * an operator would use it: create-table twice, doctor, ls/show/revoke, stats, gc with expired
 * items present, migrate between tables and between file:// directories and DynamoDB (counts and
 * versions compared), a missing table, and a clean stop on SIGINT.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { generateId, hashId } from '../../src/core/ids.js';
import type { Store, StoredSession } from '../../src/stores/store.js';
import { createStore } from '../../src/stores/url.js';
import { ENGINE, HAS_TTL } from '../helpers/dynamodb.js';
import { baton, json, type LocalEngine, spawnBaton, startLocal } from './run.js';

const table = (name: string) => `cli-${name}-${randomBytes(4).toString('hex')}`;
const key = () => `k-${randomBytes(12).toString('base64url')}`;

function session(overrides: Partial<StoredSession> = {}): StoredSession {
  const now = Date.now();
  return {
    data: { name: '"Jack Sparrow"', basket: '["rum","compass"]' },
    createdAt: now,
    expiresAt: now + 30 * 60_000,
    absoluteExpiresAt: now + 24 * 3_600_000,
    version: 1,
    ...overrides,
  };
}

/** A loopback port nothing listens on (taken from the OS, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls until every key reads as absent (expired), for at most 10 s. */
async function untilExpired(store: Store, keys: string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const live = await Promise.all(keys.map((k) => store.get(k)));
    if (live.every((s) => s === null)) return;
    if (Date.now() > deadline) throw new Error('sessions did not expire within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An engine someone else runs, in the shape `startLocal` gives (nothing to stop). */
function attach(endpoint: string): LocalEngine {
  return {
    endpoint,
    store: (name) => `dynamodb://${name}?endpoint=${endpoint}&region=us-east-1`,
    child: undefined,
    stop: async () => ({ code: 0, signal: null }),
  };
}

describe(`baton on DynamoDB (${ENGINE.name}, baton local --memory)`, () => {
  let engine: LocalEngine;
  const opened: Store[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  const open = async (url: string) => {
    const store = await createStore(url, { onWarning: () => {} });
    opened.push(store);
    return store;
  };

  before(async () => {
    engine = ENGINE.external ? attach(ENGINE.external) : await startLocal(['--memory'], ENGINE.kind);
  });
  after(async () => {
    await Promise.allSettled(opened.map((s) => s.close()));
    await Promise.allSettled(cleanups.map((c) => c()));
    if (engine?.child && engine.child.exitCode === null) await engine.stop();
  });

  it('a missing table: ls fails with one line naming the fix; doctor is unhealthy', async () => {
    const url = engine.store(table('missing'));
    const ls = await baton(['ls', '--store', url]);
    assert.equal(ls.code, 1);
    assert.equal(ls.stderr.trimEnd().split('\n').length, 1, ls.stderr);
    assert.match(
      ls.stderr,
      /^baton: \[dynamodb\] table `cli-missing-\w+` does not exist.*baton create-table/,
    );

    const doctor = await baton(['doctor', '--store', url, '--json']);
    assert.equal(doctor.code, 1);
    const report = json(doctor);
    assert.equal(report.healthy, false);
    const finding = report.findings.find((f: { check: string }) => f.check === 'table');
    assert.equal(finding.status, 'fail');
    assert.match(finding.fix, /baton create-table --store/);
  });

  it('create-table twice (idempotent), then doctor reports healthy with latency and capacity units', async () => {
    const url = engine.store(table('create'));
    const first = await baton(['create-table', '--store', url, '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(json(first).created, true);
    assert.equal(json(first).table.hashKey.matches, true);
    assert.equal(json(first).table.userIndex.present, true);
    if (HAS_TTL) {
      // DynamoDB Local (as AWS) turns TTL on: nothing to warn about.
      assert.doesNotMatch(first.stderr, /warning/, first.stderr);
      assert.equal(json(first).table.ttl.matches, true);
    } else {
      // dynalite cannot turn TTL on: said once on stderr, as a warning.
      assert.match(first.stderr, /baton: warning: .*no TTL deleter/);
    }

    const second = await baton(['create-table', '--store', url]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stdout,
      /table `cli-create-\w+` ACTIVE, partition key id \(S\), on-demand.*user index uid-index \(already exists/,
    );

    const doctor = await baton(['doctor', '--store', url]);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(
      doctor.stdout,
      /^ {2}ok {4}round trip {4}create [\d.]+ ms, get [\d.]+ ms, destroy [\d.]+ ms \(total [\d.]+ ms\), [\d.]+ capacity units$/m,
    );
    if (HAS_TTL) {
      assert.match(doctor.stdout, /^ {2}ok {4}ttl {4,}TTL ENABLED on `expires`$/m);
      assert.match(doctor.stdout, /^healthy: 6 ok$/m);
    } else {
      assert.match(
        doctor.stdout,
        /^ {2}warn {2}ttl .*deletes nothing by TTL.*\n +fix: run `baton gc --store/m,
      );
      assert.match(doctor.stdout, /^healthy: 5 ok, 1 warning$/m);
    }

    const report = json(await baton(['doctor', '--store', url, '--json']));
    assert.equal(report.healthy, true);
    assert.ok(report.roundTrip.capacityUnits > 0, `capacity units ${report.roundTrip.capacityUnits}`);
    // The temporary session is gone again.
    assert.equal(json(await baton(['stats', '--store', url, '--json'])).live, 0);

    // A small table is counted, not estimated: DescribeTable's ItemCount lags by hours.
    const store = await createStore(url, { onWarning: () => {} });
    try {
      for (let i = 0; i < 4; i++) await store.create(key(), session());
    } finally {
      await store.close();
    }
    const counted = await baton(['doctor', '--store', url]);
    assert.equal(counted.code, 0, counted.stdout + counted.stderr);
    assert.match(
      counted.stdout,
      /^ {2}ok {4}table {9}`cli-create-\w+` ACTIVE, partition key id \(S\), on-demand, 4 items$/m,
    );
  });

  it('doctor on an engine that is not there: a failure, and no "ok" for capabilities', async () => {
    const port = await freePort();
    const r = await baton([
      'doctor',
      '--store',
      `dynamodb://sessions?endpoint=http://127.0.0.1:${port}&region=us-east-1`,
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^ {2}fail {2}reachable /m);
    assert.doesNotMatch(r.stdout, /^ {2}ok /m, 'nothing is ok when nothing answered');
    assert.match(r.stdout, /^unhealthy: 1 failed, 0 warnings, 0 ok$/m);
  });

  it('--no-user-index and provisioned billing are applied to a new table', async () => {
    const url = engine.store(table('prov'));
    const r = await baton([
      'create-table',
      '--store',
      url,
      '--billing',
      'provisioned',
      '--read',
      '3',
      '--write',
      '2',
      '--no-user-index',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const t = json(r).table;
    assert.equal(t.billingMode, 'PROVISIONED');
    assert.deepEqual(t.provisioned, { read: 3, write: 2 });
    assert.equal(t.userIndex.present, false);
  });

  it('ls, show, stats, revoke and gc on live and expired sessions', async () => {
    const url = engine.store(table('admin'));
    assert.equal((await baton(['create-table', '--store', url])).code, 0);
    const store = await open(url);
    const [a1, a2, b1, gone1, gone2] = [key(), key(), key(), key(), key()];
    await store.create(a1, session({ userId: 'u-anne' }));
    await store.create(a2, session({ userId: 'u-anne', expiresAt: Date.now() + 10 * 60_000 }));
    await store.create(b1, session({ userId: 'u-bob', data: { name: '"Bob Secret"' } }));
    const soon = Date.now() + 800;
    await store.create(gone1, session({ expiresAt: soon, absoluteExpiresAt: soon }));
    await store.create(gone2, session({ expiresAt: soon, absoluteExpiresAt: soon }));
    await untilExpired(store, [gone1, gone2]);
    const env = { BATON_STORE: url };

    const ls = await baton(['ls', '--json'], env);
    assert.equal(ls.code, 0, ls.stderr);
    const listed = json<{ key: string; userId?: string; version: number; size: number }[]>(ls);
    assert.deepEqual(listed.map((s) => s.key).sort(), [a1, a2, b1].sort());
    for (const s of listed) assert.equal('data' in s, false, 'ls never shows data');
    const human = await baton(['ls'], env);
    assert.match(human.stdout, /^KEY +USER +EXPIRES +VERSION +SIZE$/m);
    assert.doesNotMatch(human.stdout + ls.stdout, /Sparrow|Secret/);
    assert.deepEqual(
      json(await baton(['ls', '--user', 'u-anne', '--json'], env))
        .map((s: { key: string }) => s.key)
        .sort(),
      [a1, a2].sort(),
    );
    assert.equal(json(await baton(['ls', '--limit', '2', '--json'], env)).length, 2);

    const show = await baton(['show', '--json', '--', b1], env);
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual(json(show).data, { name: 'Bob Secret' });
    assert.equal(json(show).userId, 'u-bob');
    assert.match((await baton(['show', '--', b1], env)).stdout, /"name": "Bob Secret"/);
    // --id: a session id or signed cookie value, hashed to the store key as the middleware does.
    const id = generateId();
    await store.create(hashId(id), session({ data: { via: '"cookie"' } }));
    const byCookie = await baton(['show', '--id', '--json', '--', `${id}.signature-part`], env);
    assert.equal(byCookie.code, 0, byCookie.stderr);
    assert.deepEqual([json(byCookie).key, json(byCookie).data], [hashId(id), { via: 'cookie' }]);
    assert.equal(json(await baton(['revoke', '--id', '--json', '--', id], env)).revoked, 1);

    const stats = json(await baton(['stats', '--json'], env));
    assert.equal(stats.live, 3);
    assert.equal(stats.users, 2);
    assert.equal(stats.expiringWithinHour, 3);
    assert.equal(stats.expiredNotDeleted, 2);
    assert.ok(stats.largestBytes >= stats.averageBytes && stats.averageBytes > 0);

    const dry = json(await baton(['gc', '--dry-run', '--json'], env));
    assert.deepEqual([dry.deleted, dry.dryRun], [2, true]);
    assert.equal(
      json(await baton(['stats', '--json'], env)).expiredNotDeleted,
      2,
      'a dry run deletes nothing',
    );
    const gc = await baton(['gc', '--rate', '50', '--json', '--progress'], env);
    assert.equal(gc.code, 0, gc.stderr);
    assert.equal(json(gc).deleted, 2, 'the progress bar stays on stderr; stdout is JSON');
    assert.match(gc.stderr, /gc \| scanned/);
    assert.equal(json(await baton(['stats', '--json'], env)).expiredNotDeleted, 0);
    assert.equal(json(await baton(['stats', '--json'], env)).live, 3, 'gc deletes no live session');

    const revokeOne = await baton(['revoke', '--', b1], env);
    assert.equal(revokeOne.code, 0, revokeOne.stderr);
    assert.match(revokeOne.stdout, /revoked 1 session/);
    assert.equal((await baton(['show', '--', b1], env)).code, 1);
    assert.match((await baton(['revoke', '--', b1], env)).stdout, /nothing to revoke/);

    const revokeUser = json(await baton(['revoke', '--user', 'u-anne', '--json'], env));
    assert.equal(revokeUser.revoked, 2);
    // A second time there is nothing left: the same words as for a key, as docs/cli.md says.
    const again = await baton(['revoke', '--user', 'u-anne'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'user u-anne has no live sessions; nothing to revoke\n');
    assert.equal(await store.get(a1), null);
    assert.equal(await store.get(a2), null);
    assert.deepEqual(json(await baton(['ls', '--json'], env)), []);
  });

  it('migrate copies live sessions keeping expiry, version and user; a second run skips; newer versions update', async () => {
    const fromUrl = engine.store(table('from'));
    const toUrl = engine.store(table('to'));
    for (const url of [fromUrl, toUrl]) assert.equal((await baton(['create-table', '--store', url])).code, 0);
    const from = await open(fromUrl);
    const to = await open(toUrl);
    const keys = Array.from({ length: 30 }, key);
    await Promise.all(
      keys.map((k, i) =>
        from.create(k, session({ version: 1 + (i % 4), userId: `u-${i % 3}`, data: { n: String(i) } })),
      ),
    );

    const dry = await baton(['migrate', '--from', fromUrl, '--to', toUrl, '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual([json(dry).found, json(dry).copied, json(dry).failed], [30, 30, 0]);
    assert.equal(
      json(await baton(['stats', '--store', toUrl, '--json'])).live,
      0,
      'a dry run writes nothing',
    );

    const first = await baton(['migrate', '--from', fromUrl, '--to', toUrl, '--json', '--progress']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(json(first), {
      found: 30,
      copied: 30,
      updated: 0,
      skipped: 0,
      gone: 0,
      failed: 0,
      dryRun: false,
      errors: [],
    });
    assert.match(first.stderr, /migrate \|/);
    for (const k of keys) assert.deepEqual(await to.get(k), await from.get(k), `session ${k} copied as is`);
    assert.equal(
      json(await baton(['ls', '--store', toUrl, '--user', 'u-1', '--json'])).length,
      10,
      'user index rebuilt',
    );

    const again = json(await baton(['migrate', '--from', fromUrl, '--to', toUrl, '--json']));
    assert.deepEqual([again.copied, again.updated, again.skipped], [0, 0, 30]);

    await from.patch(keys[0]!, { set: { n: '"changed"' }, unset: [], expiresAt: Date.now() + 40 * 60_000 });
    const third = await baton(['migrate', '--from', fromUrl, '--to', toUrl]);
    assert.equal(third.code, 0, third.stderr);
    assert.match(
      third.stdout,
      /^copied 0, updated 1, skipped 29 \(already there\), gone 0, failed 0 of 30 live sessions$/m,
    );
    assert.deepEqual(await to.get(keys[0]!), await from.get(keys[0]!));
    const fromStats = json(await baton(['stats', '--store', fromUrl, '--json']));
    const toStats = json(await baton(['stats', '--store', toUrl, '--json']));
    assert.deepEqual(toStats, fromStats);
  });

  it('migrate file → DynamoDB → file keeps every live session; gc sweeps the expired files', async () => {
    const dirs = await Promise.all([1, 2].map(() => mkdtemp(join(tmpdir(), 'baton-cli-'))));
    cleanups.push(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
    const [fileA, fileB] = dirs.map((d) => pathToFileURL(d).href) as [string, string];
    const dynamo = engine.store(table('files'));
    assert.equal((await baton(['create-table', '--store', dynamo])).code, 0);
    const source = await open(fileA);
    const keys = Array.from({ length: 20 }, key);
    await Promise.all(
      keys.map((k, i) => source.create(k, session({ version: 1 + (i % 5), userId: `u-${i % 2}` }))),
    );
    const expired = [key(), key()];
    const soon = Date.now() + 800;
    await Promise.all(
      expired.map((k) => source.create(k, session({ expiresAt: soon, absoluteExpiresAt: soon }))),
    );
    await untilExpired(source, expired);

    const there = json(await baton(['migrate', '--from', fileA, '--to', dynamo, '--json']));
    assert.deepEqual(
      [there.found, there.copied, there.failed],
      [20, 20, 0],
      'expired sessions are not copied',
    );
    const back = json(await baton(['migrate', '--from', dynamo, '--to', fileB, '--json']));
    assert.deepEqual([back.found, back.copied, back.failed], [20, 20, 0]);
    const target = await open(fileB);
    for (const k of keys) assert.deepEqual(await target.get(k), await source.get(k));
    const [a, d, b] = await Promise.all(
      [fileA, dynamo, fileB].map((url) => baton(['stats', '--store', url, '--json'])),
    );
    assert.equal(json(a!).live, 20);
    assert.equal(json(d!).live, 20);
    assert.deepEqual(json(b!), { ...json(a!), expiredNotDeleted: 0 });

    assert.equal(json(a!).expiredNotDeleted, 2);
    const gc = json(await baton(['gc', '--store', fileA, '--json']));
    assert.equal(gc.deleted, 2);
    assert.equal(json(await baton(['stats', '--store', fileA, '--json'])).expiredNotDeleted, 0);
  });

  it('migrate refuses the same store as source and target (exit 2)', async () => {
    const url = engine.store(table('same'));
    const r = await baton(['migrate', '--from', url, '--to', url]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^baton: --from and --to are the same store/);
  });

  it('baton local suggests commands that run from a project (npx baton ...)', async () => {
    const child = spawnBaton(['local', '--memory', '--port', '0']);
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes('Press Ctrl-C')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`baton local printed:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    assert.match(
      out,
      /^Next:\n {2}export BATON_STORE='dynamodb:\/\/sessions\?endpoint=http:\/\/127\.0\.0\.1:\d+&region=us-east-1'\n {2}npx baton create-table\n {2}npx baton doctor\n/m,
    );
  });

  it('baton local stops cleanly on SIGINT (exit 0)', async () => {
    const other = await startLocal(['--memory'], ENGINE.kind);
    const url = other.store(table('stop'));
    assert.equal((await baton(['create-table', '--store', url])).code, 0);
    assert.deepEqual(await other.stop(), { code: 0, signal: null });
    const after = await baton(['ls', '--store', url]);
    assert.equal(after.code, 1, 'the engine is gone');
    assert.match(after.stderr, /^baton: /);
  });

  it('baton local --path keeps the data across a restart (and stops on SIGTERM)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baton-cli-local-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const name = table('disk');
    const first = await startLocal(['--path', dir], ENGINE.kind);
    assert.equal((await baton(['create-table', '--store', first.store(name)])).code, 0);
    const store = await createStore(first.store(name), { onWarning: () => {} });
    const k = key();
    await store.create(k, session({ userId: 'u-disk' }));
    await store.close();
    assert.deepEqual(await first.stop('SIGTERM'), { code: 0, signal: null });

    const second = await startLocal(['--path', dir], ENGINE.kind);
    try {
      const shown = await baton(['show', '--store', second.store(name), '--json', '--', k]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.equal(json(shown).userId, 'u-disk');
    } finally {
      await second.stop();
    }
  });
});

/**
 * `baton` on Redis, PostgreSQL, MariaDB/MySQL and Memcached (each skipped with a notice when its engine is not
 * reachable on 127.0.0.1), and `baton migrate` through every reachable store and back to DynamoDB
 * (`baton local`), with the sessions compared at the end. Each run uses its own key prefix or
 * table and removes it afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Store, StoredSession } from '../../src/stores/store.js';
import { createStore } from '../../src/stores/url.js';
import { needService } from '../helpers/services.js';
import { baton, json, type LocalEngine, startLocal } from './run.js';

const POSTGRES = process.env.BATON_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MYSQL = process.env.BATON_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const suffix = randomBytes(4).toString('hex');

interface Engine {
  name: string;
  skip: string | false;
  /** A fresh, isolated store URL. */
  url(tag: string): string;
  /** Removes what `url(tag)` created. */
  cleanup(tag: string): Promise<void>;
}

const ENGINES: Engine[] = [
  {
    name: 'Redis',
    skip: await needService('Redis', 6379),
    url: (tag) => `redis://127.0.0.1:6379/0?prefix=baton-cli-${tag}-${suffix}:`,
    // Sessions left behind expire by themselves; the tests revoke what they create.
    cleanup: async () => {},
  },
  {
    name: 'PostgreSQL',
    skip: await needService('PostgreSQL', 5432),
    url: (tag) => `${POSTGRES}?table=baton_cli_${tag}_${suffix}`,
    cleanup: async (tag) => {
      const client = new pg.Client({ connectionString: POSTGRES });
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS "baton_cli_${tag}_${suffix}"`);
      await client.end();
    },
  },
  {
    name: 'MariaDB',
    skip: await needService('MariaDB', 3306),
    url: (tag) => `${MYSQL}?table=baton_cli_${tag}_${suffix}`,
    cleanup: async (tag) => {
      const connection = await mysql.createConnection({ uri: MYSQL });
      await connection.query(`DROP TABLE IF EXISTS \`baton_cli_${tag}_${suffix}\``);
      await connection.end();
    },
  },
];

function session(i: number): StoredSession {
  const now = Date.now();
  return {
    data: { n: String(i), basket: JSON.stringify(['rum', `item-${i}`]) },
    createdAt: now - i * 1000,
    expiresAt: now + (20 + i) * 60_000,
    absoluteExpiresAt: now + 24 * 3_600_000,
    version: 1 + (i % 3),
    userId: `u-${i % 4}`,
  };
}

const keyOf = (i: number) => `k-${suffix}-${i}`;

for (const engine of ENGINES) {
  describe(`baton on ${engine.name}`, { skip: engine.skip }, () => {
    const url = engine.url('admin');
    let store: Store;
    before(async () => {
      store = await createStore(url);
    });
    after(async () => {
      if (store) {
        for (let i = 0; i < 12; i++) await store.destroy(keyOf(i));
        await store.close();
      }
      await engine.cleanup('admin');
    });

    it('create-table twice, then doctor is healthy', async () => {
      for (let run = 0; run < 2; run++) {
        const r = await baton(['create-table', '--store', url]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /ready|needs no table/);
      }
      const doctor = await baton(['doctor', '--store', url, '--json']);
      assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
      assert.equal(json(doctor).healthy, true);
      assert.equal(typeof json(doctor).roundTrip.ms.get, 'number');
    });

    it('ls, stats, show and revoke --user', async () => {
      await Promise.all(Array.from({ length: 12 }, (_, i) => store.create(keyOf(i), session(i))));
      const env = { BATON_STORE: url };
      const listed = json<{ key: string }[]>(await baton(['ls', '--json'], env));
      assert.deepEqual(
        listed.map((s) => s.key).sort(),
        Array.from({ length: 12 }, (_, i) => keyOf(i)).sort(),
      );
      const stats = json(await baton(['stats', '--json'], env));
      assert.deepEqual([stats.live, stats.users, stats.expiringWithinHour], [12, 4, 12]);
      assert.deepEqual(json(await baton(['show', '--json', '--', keyOf(5)], env)).data, {
        n: 5,
        basket: ['rum', 'item-5'],
      });
      const revoked = json(await baton(['revoke', '--user', 'u-1', '--json'], env));
      assert.equal(revoked.revoked, 3);
      assert.equal(json(await baton(['stats', '--json'], env)).live, 9);
      assert.equal((await baton(['gc', '--json'], env)).code, 0);
    });
  });
}

describe('baton on Memcached', { skip: await needService('Memcached', 11211) }, () => {
  const url = `memcached://127.0.0.1:11211?prefix=baton-cli-${suffix}:`;

  it('doctor is healthy; listing commands fail with one line naming stores that can list', async () => {
    const doctor = await baton(['doctor', '--store', url, '--json']);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.equal(json(doctor).healthy, true);
    for (const args of [['ls'], ['stats'], ['migrate', '--from', url, '--to', 'memory:']]) {
      const r = await baton(args[0] === 'migrate' ? args : [...args, '--store', url]);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^baton: .*cannot list sessions.*DynamoDB/);
    }
  });
});

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

const mysqlSkip = await needService('MariaDB', 3306);

describe('baton errors name their store and where it is', () => {
  it('an unreachable Redis: the address and the connection error, and doctor says no "ok"', async () => {
    const port = await freePort();
    const url = `redis://:hunter2@127.0.0.1:${port}/0`;
    const ls = await baton(['ls', '--store', url]);
    assert.equal(ls.code, 1, ls.stderr);
    assert.match(
      ls.stderr,
      new RegExp(`^baton: \\[redis\\] Redis at 127\\.0\\.0\\.1:${port} call failed: .*ECONNREFUSED`),
    );
    assert.doesNotMatch(ls.stderr, /hunter2/);
    const doctor = await baton(['doctor', '--store', url]);
    assert.equal(doctor.code, 1);
    assert.match(
      doctor.stdout,
      new RegExp(`fail {2}reachable +\\[redis\\] Redis at 127\\.0\\.0\\.1:${port}`),
    );
    assert.doesNotMatch(doctor.stdout, /^ {2}ok /m);
  });

  it('MySQL: an unknown database is reported with the [mysql] prefix, every time', {
    skip: mysqlSkip,
  }, async () => {
    const url = MYSQL.replace(/\/[^/?]*$/, `/baton_no_such_db_${suffix}`);
    const runs = await Promise.all([1, 2, 3, 4].map(() => baton(['ls', '--store', url])));
    for (const r of runs) {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^baton: \[mysql\] .*Unknown database/);
    }
    // The race behind the missing prefix, made certain: the pool closed while its first connection fails.
    const store = await createStore(url);
    const read = store.get('k').catch((err: Error) => err);
    const closed = await store.close().then(
      () => null,
      (err: Error) => err,
    );
    assert.ok(closed === null || /^\[baton-session\] \[mysql\] /.test(closed.message), closed?.message);
    assert.match(((await read) as Error).message, /^\[baton-session\] \[mysql\] /);
  });
});

const reachable = ENGINES.filter((e) => e.skip === false);

describe('baton migrate: DynamoDB → every reachable store → DynamoDB', {
  skip: reachable.length === 0 ? 'no other store is reachable' : false,
}, () => {
  let local: LocalEngine;
  const stores: Store[] = [];
  before(async () => {
    local = await startLocal();
  });
  after(async () => {
    await Promise.allSettled(stores.map((s) => s.close()));
    await Promise.allSettled(reachable.map((e) => e.cleanup('chain')));
    if (local) await local.stop();
  });

  it('keeps every session, its expiry, version and user, hop after hop', async () => {
    const first = local.store(`cli-chain-a-${suffix}`);
    const last = local.store(`cli-chain-z-${suffix}`);
    const hops = [first, ...reachable.map((e) => e.url('chain')), last];
    for (const url of hops) assert.equal((await baton(['create-table', '--store', url])).code, 0, url);
    const source = await createStore(first, { onWarning: () => {} });
    stores.push(source);
    const count = 40;
    await Promise.all(Array.from({ length: count }, (_, i) => source.create(keyOf(i), session(i))));

    for (let h = 0; h + 1 < hops.length; h++) {
      const r = await baton(['migrate', '--from', hops[h]!, '--to', hops[h + 1]!, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const summary = json(r);
      assert.deepEqual(
        [summary.found, summary.copied, summary.failed],
        [count, count, 0],
        `${hops[h]} → ${hops[h + 1]}`,
      );
    }
    const target = await createStore(last, { onWarning: () => {} });
    stores.push(target);
    for (let i = 0; i < count; i++) {
      assert.deepEqual(
        await target.get(keyOf(i)),
        await source.get(keyOf(i)),
        `session ${i} after ${hops.length - 1} hops`,
      );
    }
    const [a, z] = await Promise.all([first, last].map((url) => baton(['stats', '--store', url, '--json'])));
    assert.deepEqual(json(z!), json(a!));
    // The intermediate stores are emptied so the next run starts clean.
    for (const url of hops.slice(1, -1)) {
      const s = await createStore(url);
      for (let i = 0; i < count; i++) await s.destroy(keyOf(i));
      await s.close();
    }
  });
});

/**
 * The DynamoDB store's per-key expectations (`Patch.expect`, the same-key rebase's guard) and its
 * lock item, on the run's engine (dynalite or DynamoDB Local): a stale key is refused with the
 * keys named and nothing written; equal text stored in another encoding (compressed by another
 * instance) is not stale; many keys stay within the expression limits; a refused lock attempt on
 * a large session costs one write unit, not the session's size.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { OperationInfo, Patch } from '../../src/core/store.js';
import { DynamoDBStore, type DynamoDBStoreOptions } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { lockKey } from '../../src/stores/dynamodb/lock.js';
import { newKey, record } from '../conformance/suite.js';
import { ENGINE, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';

describe(`DynamoDBStore expectations and lock item on ${ENGINE.name}`, () => {
  let engine: LocalDynamo;
  let client: DynamoDBClient;
  const stores: DynamoDBStore[] = [];

  before(async () => {
    engine = await startEngine();
    client = sdkClient(engine.endpoint);
  });
  after(async () => {
    for (const s of stores) await s.close();
    client?.destroy();
    await engine?.close();
  });

  /** Stores over one new table, one per option set: app instances configured differently. */
  async function instances(...options: Array<Partial<DynamoDBStoreOptions>>): Promise<DynamoDBStore[]> {
    const table = tableName('baton-expect');
    const made = options.map((o) => new DynamoDBStore({ tableName: table, client, ...warnings(), ...o }));
    stores.push(...made);
    await made[0]?.ensureTable();
    return made;
  }

  const raw = async (table: string, key: string) =>
    (
      await client.send(
        new GetItemCommand({ TableName: table, Key: { id: { S: key } }, ConsistentRead: true }),
      )
    ).Item;

  const merge = (set: Record<string, string>, expect: Patch['expect'], unset: string[] = []): Patch => ({
    set,
    unset,
    expiresAt: Date.now() + 60_000,
    expect,
  });

  async function refusedAsStale(promise: Promise<unknown>, keys: string[]): Promise<void> {
    await assert.rejects(promise, (err: { code?: string; staleKeys?: readonly string[] }) => {
      assert.equal(err.code, 'BATON_CONFLICT');
      assert.deepEqual([...(err.staleKeys ?? [])].sort(), [...keys].sort());
      return true;
    });
  }

  it('a stale key is refused with the keys that differ named, and nothing is written', async () => {
    const [store] = (await instances({})) as [DynamoDBStore];
    const key = newKey();
    await store.create(key, record({ data: { basket: '["rum"]', name: '"Jack"', n: '1' } }));
    // Another request added to the basket after this one loaded it.
    await store.patch(key, merge({ basket: '["rum","map"]' }, { basket: '["rum"]' }));
    const before = await raw(store.tableName, key);
    await refusedAsStale(
      store.patch(
        key,
        merge(
          { basket: '["rum","hat"]', name: '"Will"', n: '2' },
          { basket: '["rum"]', name: '"Jack"', n: '1' },
        ),
      ),
      ['basket'],
    );
    assert.deepEqual(await raw(store.tableName, key), before, 'the item is untouched');
    const got = await store.get(key);
    assert.equal(got?.data.basket, '["rum","map"]');
    assert.equal(got?.data.name, '"Jack"');
    assert.equal(got?.version, 2);
  });

  it('keys the request did not change are not checked; keys still as read apply', async () => {
    const [store] = (await instances({})) as [DynamoDBStore];
    const key = newKey();
    await store.create(key, record({ data: { a: '1', b: '1' } }));
    await store.patch(key, merge({ b: '2' }, { b: '1' }));
    assert.deepEqual(await store.patch(key, merge({ a: '9' }, { a: '1' })), { version: 3 });
    assert.deepEqual((await store.get(key))?.data, { a: '9', b: '2' });
    // Removing a key expects its value too.
    await refusedAsStale(store.patch(key, merge({}, { b: '1' }, ['b'])), ['b']);
    assert.deepEqual(await store.patch(key, merge({}, { b: '2' }, ['b'])), { version: 4 });
    assert.deepEqual((await store.get(key))?.data, { a: '9' });
  });

  it('null expects the key absent: applies while absent, refused once another request added it', async () => {
    const [store] = (await instances({})) as [DynamoDBStore];
    const key = newKey();
    await store.create(key, record({ data: { a: '1' } }));
    assert.deepEqual(await store.patch(key, merge({ basket: '["x"]' }, { basket: null })), { version: 2 });
    await refusedAsStale(store.patch(key, merge({ basket: '["y"]' }, { basket: null })), ['basket']);
    // Expecting a value where the key is absent is stale too.
    await refusedAsStale(store.patch(key, merge({ gone: '2' }, { gone: '1' })), ['gone']);
    assert.deepEqual((await store.get(key))?.data, { a: '1', basket: '["x"]' });
  });

  it('equal text stored compressed by another instance (gzip, brotli, text) is not stale; the write applies', async () => {
    const [gzip, brotli, text] = (await instances(
      { compression: 'gzip' },
      { compression: 'brotli' },
      { compressAbove: 0 },
    )) as [DynamoDBStore, DynamoDBStore, DynamoDBStore];
    const big = JSON.stringify({ items: Array.from({ length: 400 }, (_, i) => `item-${i}`) });
    const key = newKey();
    await gzip.create(key, record({ data: { big, n: '1' } }));
    const stored = (await raw(gzip.tableName, key))?.data?.M?.big;
    assert.ok(stored && 'B' in stored, 'stored compressed');
    assert.deepEqual(await brotli.patch(key, merge({ big: `${big} `, n: '2' }, { big, n: '1' })), {
      version: 2,
    });
    assert.deepEqual(await text.patch(key, merge({ big, n: '3' }, { big: `${big} `, n: '2' })), {
      version: 3,
    });
    assert.deepEqual(await gzip.patch(key, merge({ n: '4' }, { big, n: '3' })), { version: 4 });
    // And a real change of the large value is still stale.
    await refusedAsStale(brotli.patch(key, merge({ big: '1' }, { big: `${big} ` })), ['big']);
    assert.deepEqual((await gzip.get(key))?.data, { big, n: '4' });
  });

  it('many expected keys with long names stay within the expression limits, stale ones still refused', async () => {
    const [store] = (await instances({})) as [DynamoDBStore];
    const key = newKey();
    const names = Array.from(
      { length: 200 },
      (_, i) => `preference-with-a-long-name-${String(i).padStart(4, '0')}`,
    );
    const data = Object.fromEntries(names.map((k) => [k, '"a"']));
    await store.create(key, record({ data }));
    const set = Object.fromEntries(names.map((k) => [k, '"b"']));
    const expect = Object.fromEntries(names.map((k) => [k, '"a"']));
    assert.deepEqual(await store.patch(key, merge(set, expect)), { version: 2 });
    assert.equal((await store.get(key))?.data[names[199] as string], '"b"');
    // 30 keys (per-key write) and 200 keys (past the limits: the whole-map write) both refuse stale ones.
    for (const count of [30, 200]) {
      const some = names.slice(0, count);
      await refusedAsStale(
        store.patch(
          key,
          merge(
            Object.fromEntries(some.map((k) => [k, '"c"'])),
            Object.fromEntries(some.map((k) => [k, '"a"'])),
          ),
        ),
        some,
      );
    }
    assert.equal((await store.get(key))?.version, 2);
  });

  it('a refused lock attempt on a 264 KB session costs one write unit, not the session size', async () => {
    const [store] = (await instances({ compressAbove: 0 })) as [DynamoDBStore];
    const key = newKey();
    await store.create(key, record({ data: { big: JSON.stringify('x'.repeat(264 * 1024 - 100)) } }));
    const ops: OperationInfo[] = [];
    store.onOperation((o) => ops.push(o));
    const holder = await store.lock(key, 30_000);
    assert.ok(holder?.session, 'locked and read');
    ops.length = 0;
    for (let i = 0; i < 5; i++) assert.equal(await store.lock(key, 30_000), null);
    const units = ops.filter((o) => o.op === 'lock').map((o) => o.capacityUnits ?? 0);
    assert.equal(units.length, 5);
    for (const u of units) assert.ok(u <= 2, `a refused attempt cost ${u} units`);
    ops.length = 0;
    await holder.release();
    const released = ops.reduce((sum, o) => sum + (o.capacityUnits ?? 0), 0);
    assert.ok(released <= 2, `releasing cost ${released} units`);
    const next = await store.lock(key, 30_000);
    assert.ok(next?.session, 'free again after release');
    await next.release();
  });

  it('lock items are not sessions: scan lists only sessions, and a destroyed session cannot be locked into life', async () => {
    const [store] = (await instances({})) as [DynamoDBStore];
    const keys = [newKey(), newKey()];
    for (const k of keys) await store.create(k, record());
    const h = await store.lock(keys[0] as string, 30_000);
    assert.ok(h?.session);
    const listed: string[] = [];
    for await (const s of store.scan({ includeExpired: true })) listed.push(s.key);
    assert.deepEqual(listed.sort(), [...keys].sort());
    await h.release();
    assert.equal(await store.destroy(keys[1] as string), true);
    const dead = await store.lock(keys[1] as string, 30_000);
    assert.equal(dead?.session, null);
    assert.equal(await store.get(keys[1] as string), null);
    assert.equal(
      await raw(store.tableName, keys[1] as string),
      undefined,
      'nothing written under the session key',
    );
  });
  it('gc deletes a lock item only once its own expiry has passed, and never a held one', async () => {
    const [store] = (await instances({})) as [DynamoDBStore];
    const [idle, held] = [newKey(), newKey()];
    for (const k of [idle, held]) await store.create(k, record());
    const first = await store.lock(idle, 30_000);
    await first?.release();
    const holder = await store.lock(held, 30_000);
    assert.ok(holder?.session);
    // The idle lock item's TTL attribute, as an hour later.
    await client.send(
      new UpdateItemCommand({
        TableName: store.tableName,
        Key: { id: { S: lockKey(idle) } },
        UpdateExpression: 'SET #exp = :past',
        ExpressionAttributeNames: { '#exp': 'expires' },
        ExpressionAttributeValues: { ':past': { N: String(Math.floor(Date.now() / 1000) - 10) } },
      }),
    );
    assert.equal((await store.gc()).deleted, 1);
    assert.equal(await raw(store.tableName, lockKey(idle)), undefined);
    assert.ok(await raw(store.tableName, lockKey(held)), 'the held lock item stays');
    assert.equal(await store.lock(held, 30_000), null, 'still held');
    const again = await store.lock(idle, 30_000);
    assert.ok(again?.session, 'the idle session locks again');
    await again.release();
    await holder.release();
  });
});

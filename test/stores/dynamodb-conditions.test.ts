/**
 * What a serializing engine would hide, on the run's engine (dynalite or DynamoDB Local): destroy
 * decides "mine" by a condition, never by the old item an unconditional delete returns (DynamoDB
 * Local hands it to both of two concurrent deletes); an item whose TTL attribute `expires` has
 * passed is gone to every read and write whatever baton's own fields say. The TTL deleter itself is
 * tested in dynamodb-ttl.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { hashId } from '../../src/core/ids.js';
import { SessionManager } from '../../src/core/manager.js';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { newKey, record } from '../conformance/suite.js';
import { ENGINE, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';
import { idOf, request } from '../helpers/manager-flow.js';

const ROUNDS = 100;

describe(`DynamoDBStore conditions on ${ENGINE.name}`, () => {
  let engine: LocalDynamo;
  let client: DynamoDBClient;
  let other: DynamoDBClient;
  const stores: DynamoDBStore[] = [];
  const managers: SessionManager[] = [];

  const raw = async (table: string, key: string) =>
    (
      await client.send(
        new GetItemCommand({ TableName: table, Key: { id: { S: key } }, ConsistentRead: true }),
      )
    ).Item;

  before(async () => {
    engine = await startEngine();
    client = sdkClient(engine.endpoint);
    other = sdkClient(engine.endpoint);
  });
  after(async () => {
    await Promise.all(managers.map((m) => m.close()));
    for (const s of stores) await s.close();
    client?.destroy();
    other?.destroy();
    await engine?.close();
  });

  /**
   * Two stores over one new table, each with its own client: two app instances. `tableTtl` makes
   * the table with TTL on another attribute, so no deleter removes an item while a test reads it.
   */
  async function pair(tableTtl?: string): Promise<[DynamoDBStore, DynamoDBStore]> {
    const table = tableName('baton-cond');
    const a = new DynamoDBStore({ tableName: table, client, ...warnings() });
    const b = new DynamoDBStore({ tableName: table, client: other, ...warnings() });
    stores.push(a, b);
    if (tableTtl === undefined) {
      await a.ensureTable();
    } else {
      const maker = new DynamoDBStore({ tableName: table, client, ttlAttribute: tableTtl, ...warnings() });
      await maker.ensureTable();
      await maker.close();
    }
    return [a, b];
  }

  describe('destroy reports "mine" by a condition', () => {
    for (const n of [2, 10]) {
      it(`of ${n} concurrent destroys over two instances, exactly one reports true (${ROUNDS} rounds)`, async (t) => {
        const [a, b] = await pair();
        const wrong: string[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const key = newKey();
          await a.create(key, record());
          const results = await Promise.all(
            Array.from({ length: n }, (_, i) => (i % 2 ? b : a).destroy(key)),
          );
          const yes = results.filter(Boolean).length;
          if (yes !== 1) wrong.push(`round ${r}: ${yes} of ${n} said true`);
          assert.equal(await a.get(key), null);
        }
        t.diagnostic(`${ROUNDS} rounds of ${n} destroys: ${wrong.length} rounds without exactly one true`);
        assert.deepEqual(wrong, []);
      });
    }

    it(`two concurrent regenerate()s on two instances leave the data under exactly one id (${ROUNDS / 2} rounds)`, async (t) => {
      const [store] = await pair();
      const secret = 'conditions-secret-conditions-secret';
      const a = new SessionManager({ store, secret });
      const b = new SessionManager({ store, secret });
      managers.push(a, b);
      const rounds = ROUNDS / 2;
      const wrong: string[] = [];
      for (let r = 0; r < rounds; r++) {
        const first = await request(a, undefined, (s) => {
          s.secret = `data-${r}`;
        });
        const one = await a.load({ cookie: first.cookie });
        const two = await b.load({ cookie: first.cookie });
        await Promise.all([one.regenerate(), two.regenerate()]);
        const replies = await Promise.all([a.commit(one), b.commit(two)]);
        let holders = 0;
        for (const reply of replies) {
          for (const c of reply.setCookie) {
            const id = idOf(c.split(';')[0]);
            if (!id) continue;
            const stored = await store.get(hashId(id));
            if (stored?.data.secret === JSON.stringify(`data-${r}`)) holders++;
          }
        }
        if (holders !== 1) wrong.push(`round ${r}: ${holders} ids hold the data`);
        assert.equal(await store.get(hashId(idOf(first.cookie))), null, 'the old id is gone');
      }
      t.diagnostic(`${rounds} rounds: ${wrong.length} without exactly one holder`);
      assert.deepEqual(wrong, []);
    });
  });

  describe("every expiry counts: `expires` in the past, baton's own fields in the future", () => {
    it('absent to get, patch, touch, lock, listByUser and scan; nothing written or revived', async () => {
      const [store] = await pair('deleter_off');
      const key = newKey();
      const live = newKey();
      const now = Date.now();
      await store.create(
        key,
        record({ userId: 'u-ttl', expiresAt: now + 600_000, absoluteExpiresAt: now + 3_600_000 }),
      );
      await store.create(
        live,
        record({ userId: 'u-ttl', expiresAt: now + 600_000, absoluteExpiresAt: now + 3_600_000 }),
      );
      // An operator (or another tool) shortens only the TTL attribute.
      const past = Math.floor(now / 1000) - 5;
      await client.send(
        new UpdateItemCommand({
          TableName: store.tableName,
          Key: { id: { S: key } },
          UpdateExpression: 'SET #exp = :past',
          ExpressionAttributeNames: { '#exp': 'expires' },
          ExpressionAttributeValues: { ':past': { N: String(past) } },
        }),
      );
      const before = await raw(store.tableName, key);
      assert.ok(before, 'the item is still in the table');
      assert.ok(Number(before.xms?.N) > Date.now(), "baton's own expiry is still in the future");

      assert.equal(await store.get(key), null, 'get');
      assert.equal(
        await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 600_000 }),
        null,
        'patch',
      );
      assert.equal(await store.touch(key, Date.now() + 600_000), false, 'touch');
      const lock = await store.lock(key, 5_000);
      assert.equal(lock?.session ?? null, null, 'lock');
      await lock?.release();
      const listed = (await store.listByUser('u-ttl')).map((s) => s.key);
      assert.deepEqual(listed, [live], 'listByUser');
      const scanned: string[] = [];
      for await (const s of store.scan()) scanned.push(s.key);
      assert.deepEqual(scanned, [live], 'scan');

      const afterwards = await raw(store.tableName, key);
      assert.deepEqual(afterwards, before, 'nothing was written to the expired item');
      // gc removes it (any expiry passed); the live one stays.
      assert.equal((await store.gc()).deleted, 1);
      assert.equal(await raw(store.tableName, key), undefined);
      assert.ok(await store.get(live));
    });

    it('a fractional TTL attribute counts to the millisecond (written by another tool)', async () => {
      const [store] = await pair('deleter_off');
      const key = newKey();
      const now = Date.now();
      await store.create(key, record({ expiresAt: now + 600_000, absoluteExpiresAt: now + 3_600_000 }));
      await client.send(
        new UpdateItemCommand({
          TableName: store.tableName,
          Key: { id: { S: key } },
          UpdateExpression: 'SET #exp = :past',
          ExpressionAttributeNames: { '#exp': 'expires' },
          // 0.3 s in the past, but the same whole second as now or later after flooring.
          ExpressionAttributeValues: { ':past': { N: String((now - 300) / 1000) } },
        }),
      );
      assert.equal(await store.get(key), null, 'get');
      assert.equal(await store.touch(key, Date.now() + 600_000), false, 'touch');
    });
  });
});

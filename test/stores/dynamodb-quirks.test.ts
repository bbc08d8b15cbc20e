/**
 * DynamoDB behaviour beyond the conformance suite: the item layout, items made by other tools,
 * tables made by hand, DynamoDB's size and expression limits, capacity units and calls per
 * operation. Against the run's engine (dynalite or DynamoDB Local: test/helpers/dynamodb.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  CreateTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { itemSize } from '../../src/stores/dynamodb/codec.js';
import { DynamoDBStore, type DynamoDBStoreOptions, optionsFromUrl } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import type { Item } from '../../src/stores/dynamodb/transport.js';
import type { OperationInfo } from '../../src/stores/store.js';
import { newKey, record } from '../conformance/suite.js';
import {
  awsLiteClient,
  ENGINE,
  HAS_TTL,
  sdkClient,
  startEngine,
  tableName,
  warnings,
} from '../helpers/dynamodb.js';

async function rejectsWithCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (message) assert.match(String(err.message), message);
    return true;
  });
}

/**
 * Counts the DynamoDB requests on the wire from now on (`x-amz-target` of each HTTP request this
 * process starts), whichever transport sends them: the lean path runs no SDK middleware and sends
 * through undici's pool (its `undici:request:create` channel), the SDK and aws-lite through
 * node:http (`http.client.request.start`).
 */
function countCommands(_client: DynamoDBClient): { calls: string[]; reset(): void } {
  const calls: string[] = [];
  const add = (target: unknown) => {
    if (typeof target === 'string') calls.push(target.split('.').pop() ?? target);
  };
  diagnostics.subscribe('http.client.request.start', (message) => {
    add((message as { request: ClientRequest }).request.getHeader('x-amz-target'));
  });
  diagnostics.subscribe('undici:request:create', (message) => {
    const headers = (message as { request: { headers: string[] | string } }).request.headers;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        if (String(headers[i]).toLowerCase() === 'x-amz-target') add(headers[i + 1]);
      }
    } else {
      add(/^x-amz-target: *(.*)$/im.exec(headers)?.[1]?.trim());
    }
  });
  return { calls, reset: () => calls.splice(0) };
}

/** The table the classic AWS guide's script makes: key `id` only, provisioned 1/1, no index. */
async function guideTable(client: DynamoDBClient): Promise<string> {
  const name = tableName('guide');
  await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
    }),
  );
  return name;
}

describe(`DynamoDBStore quirks on ${ENGINE.name}`, () => {
  let engine: LocalDynamo;
  let client: DynamoDBClient;
  let store: DynamoDBStore;
  const stores: DynamoDBStore[] = [];

  async function makeStore(options: Partial<DynamoDBStoreOptions> = {}): Promise<DynamoDBStore> {
    const s = new DynamoDBStore({ tableName: tableName(), client, ...warnings(), ...options });
    stores.push(s);
    if (options.tableName === undefined) await s.ensureTable();
    return s;
  }

  const raw = async (table: string, key: string) =>
    (
      await client.send(
        new GetItemCommand({ TableName: table, Key: { id: { S: key } }, ConsistentRead: true }),
      )
    ).Item;

  before(async () => {
    engine = await startEngine();
    client = sdkClient(engine.endpoint);
    store = await makeStore();
  });
  after(async () => {
    for (const s of stores) await s.close();
    client?.destroy();
    await engine?.close();
  });

  describe('item layout', () => {
    it('id S, expires N in epoch seconds (10 digits), data M of JSON text, times and version as N', async () => {
      const key = newKey();
      const s = record({ userId: 'u-1' });
      await store.create(key, s);
      const item = await raw(store.tableName, key);
      assert.ok(item);
      assert.deepEqual(item.id, { S: key });
      const expires = item.expires?.N ?? '';
      assert.match(expires, /^\d{10}$/);
      assert.equal(Number(expires), Math.ceil(s.expiresAt / 1000));
      assert.ok(Math.abs(Number(expires) - Date.now() / 1000) <= 61);
      assert.deepEqual(item.data, { M: { name: { S: '"Jack Sparrow"' }, basket: { S: '["rum"]' } } });
      assert.equal(item.v?.N, '1');
      assert.equal(item.uid?.S, 'u-1');
      assert.equal(item.abs?.N, String(s.absoluteExpiresAt));
    });

    it('the TTL attribute is the earlier of idle and absolute expiry', async () => {
      const key = newKey();
      const now = Date.now();
      await store.create(key, record({ expiresAt: now + 3_600_000, absoluteExpiresAt: now + 60_000 }));
      assert.equal((await raw(store.tableName, key))?.expires?.N, String(Math.ceil((now + 60_000) / 1000)));
    });

    it('compresses large values when smaller, and reads them back; compressAbove 0 stores text', async () => {
      const big = JSON.stringify({ rows: Array.from({ length: 400 }, (_, i) => ({ i, name: 'row' })) });
      const key = newKey();
      await store.create(key, record({ data: { big, small: '1' } }));
      const item = await raw(store.tableName, key);
      const stored = item?.data?.M?.big;
      assert.ok(stored?.B, 'stored as binary');
      assert.ok(stored.B.byteLength < Buffer.byteLength(big) / 4);
      assert.equal(item?.data?.M?.small?.S, '1');
      assert.deepEqual((await store.get(key))?.data, { big, small: '1' });
      await store.patch(key, { set: { big: `${big} ` }, unset: [], expiresAt: Date.now() + 60_000 });
      assert.equal((await store.get(key))?.data.big, `${big} `);

      const plain = await makeStore({ compressAbove: 0 });
      await plain.create(key, record({ data: { big } }));
      assert.equal((await raw(plain.tableName, key))?.data?.M?.big?.S, big);
    });

    it('compressed values travel as base64 through aws-lite, and both clients read each other', async () => {
      const lite = await makeStore({
        tableName: store.tableName,
        client: await awsLiteClient(engine.endpoint),
      });
      const big = JSON.stringify({ rows: Array.from({ length: 300 }, (_, i) => ({ i, tag: 'lite' })) });
      const key = newKey();
      await lite.create(key, record({ data: { big } }));
      assert.ok((await raw(store.tableName, key))?.data?.M?.big?.B, 'stored as binary');
      assert.equal((await store.get(key))?.data.big, big, 'SDK reads what aws-lite wrote');
      await store.patch(key, { set: { big: `${big} ` }, unset: [], expiresAt: Date.now() + 60_000 });
      assert.equal((await lite.get(key))?.data.big, `${big} `, 'aws-lite reads what the SDK wrote');
      assert.equal(lite.transport, 'aws-lite');
    });

    it('keeps the empty key and keys starting with ~ apart', async () => {
      const key = newKey();
      const data = { '': '1', '~': '2', '~~': '3', '~x': '4' };
      await store.create(key, record({ data }));
      assert.deepEqual((await store.get(key))?.data, data);
      await store.patch(key, { set: { '': '5', '~': '6' }, unset: ['~x'], expiresAt: Date.now() + 60_000 });
      assert.deepEqual((await store.get(key))?.data, { '': '5', '~': '6', '~~': '3' });
    });
  });

  describe('expiry the engine has not acted on', () => {
    it('an item past `expires` but still present is not served, patched, touched or locked', async () => {
      const key = newKey();
      const past = Date.now() - 5_000;
      await client.send(
        new PutItemCommand({
          TableName: store.tableName,
          Item: {
            id: { S: key },
            expires: { N: String(Math.ceil(past / 1000)) },
            xms: { N: String(past) },
            abs: { N: String(past + 600_000) },
            v: { N: '3' },
            data: { M: { secret: { S: '"x"' } } },
          },
        }),
      );
      assert.equal(await store.get(key), null);
      assert.equal(
        await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
        null,
      );
      assert.equal(await store.touch(key, Date.now() + 60_000), false);
      const handle = await store.lock(key, 5_000);
      assert.equal(handle?.session, null);
      assert.equal(await store.destroy(key), false, 'an expired session does not count as destroyed');
    });

    it('an item with only the TTL attribute (other tools) is live until then, in seconds', async () => {
      const key = newKey();
      await client.send(
        new PutItemCommand({
          TableName: store.tableName,
          Item: { id: { S: key }, expires: { N: String(Math.floor(Date.now() / 1000) + 60) } },
        }),
      );
      const got = await store.get(key);
      assert.ok(got);
      assert.deepEqual(got.data, {});
    });
  });

  describe('items and tables made by other tools', () => {
    it('patches an item that has no data map, without a ValidationException', async () => {
      const key = newKey();
      await client.send(
        new PutItemCommand({
          TableName: store.tableName,
          Item: { id: { S: key }, expires: { N: String(Math.floor(Date.now() / 1000) + 60) } },
        }),
      );
      assert.deepEqual(
        await store.patch(key, { set: { a: '1' }, unset: ['b'], expiresAt: Date.now() + 60_000 }),
        {
          version: 1,
        },
      );
      assert.deepEqual((await store.get(key))?.data, { a: '1' });
      assert.deepEqual(
        await store.patch(key, { set: { b: '2' }, unset: [], expiresAt: Date.now() + 60_000 }),
        {
          version: 2,
        },
      );
      assert.deepEqual((await store.get(key))?.data, { a: '1', b: '2' });
    });

    it('a strict patch of an item without a version (other tools) expects version 0', async () => {
      const key = newKey();
      await client.send(
        new PutItemCommand({
          TableName: store.tableName,
          Item: { id: { S: key }, expires: { N: String(Math.floor(Date.now() / 1000) + 60) } },
        }),
      );
      assert.equal((await store.get(key))?.version, 0);
      assert.deepEqual(
        await store.patch(key, {
          set: { a: '1' },
          unset: [],
          expiresAt: Date.now() + 60_000,
          expectVersion: 0,
        }),
        { version: 1 },
      );
      await rejectsWithCode(
        store.patch(key, { set: { b: '1' }, unset: [], expiresAt: Date.now() + 60_000, expectVersion: 0 }),
        'BATON_CONFLICT',
      );
    });

    it('patches an item whose data is a string (the PHP handler) by writing a map', async () => {
      const key = newKey();
      await client.send(
        new PutItemCommand({
          TableName: store.tableName,
          Item: {
            id: { S: key },
            expires: { N: String(Math.floor(Date.now() / 1000) + 60) },
            data: { S: 'a:1:{s:3:"foo";s:3:"bar";}' },
          },
        }),
      );
      assert.deepEqual((await store.get(key))?.data, {});
      await store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 });
      assert.deepEqual((await store.get(key))?.data, { a: '1' });
    });

    it('a guide-made table (key id only, provisioned 1/1, no index) serves everything but listByUser', async () => {
      const name = await guideTable(client);
      const guide = await makeStore({ tableName: name });
      const key = newKey();
      await guide.create(key, record({ userId: 'u' }));
      assert.deepEqual((await guide.get(key))?.data, record().data);
      assert.deepEqual(
        await guide.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
        {
          version: 2,
        },
      );
      assert.equal(await guide.touch(key, Date.now() + 90_000), true);
      const lock = await guide.lock(key, 5_000);
      assert.ok(lock?.session);
      assert.equal(await guide.lock(key, 5_000), null);
      await lock.release();
      const keys: string[] = [];
      for await (const summary of guide.scan()) keys.push(summary.key);
      assert.deepEqual(keys, [key]);
      assert.deepEqual(await guide.gc(), { deleted: 0, scanned: 1 });
      await rejectsWithCode(guide.listByUser('u'), 'BATON_NOT_SUPPORTED', /uid-index.*baton create-table/);
      assert.equal(await guide.destroy(key), true);

      // ensureTable asks for the index. An engine that can add one to an existing table (AWS,
      // DynamoDB Local) has it ACTIVE when ensureTable returns, and listByUser works; one that
      // cannot (dynalite) says so in a warning, and listByUser keeps saying what to do.
      const w = warnings();
      const ensuring = await makeStore({ tableName: name, onWarning: w.onWarning });
      const described = await ensuring.ensureTable();
      assert.deepEqual(described.provisioned, { read: 1, write: 1 });
      const added = w.list.some((m) => /did not add the index `uid-index`/.test(m));
      assert.equal(described.userIndex?.present, !added, `warnings: ${w.list.join(' | ')}`);
      if (added) {
        await rejectsWithCode(ensuring.listByUser('u'), 'BATON_NOT_SUPPORTED', /uid-index/);
      } else {
        assert.equal(described.userIndex?.status, 'ACTIVE');
        const mine = newKey();
        await ensuring.create(mine, record({ userId: 'u-guide' }));
        assert.deepEqual(
          (await ensuring.listByUser('u-guide')).map((x) => x.key),
          [mine],
        );
      }
    });

    it('with userIndex: false, listByUser says so and ensureTable adds no index', async () => {
      const noIndex = await makeStore({ userIndex: false });
      assert.equal((await noIndex.describe()).userIndex?.present, false);
      await rejectsWithCode(noIndex.listByUser('u'), 'BATON_NOT_SUPPORTED', /uid-index/);
    });

    it('a missing table is a clear StoreUnavailableError naming the fix', async () => {
      const missing = await makeStore({ tableName: tableName('missing') });
      await rejectsWithCode(
        missing.get(newKey()),
        'BATON_STORE_UNAVAILABLE',
        /does not exist.*baton create-table/,
      );
      assert.equal((await missing.describe()).exists, false);
    });
  });

  describe('consistency', () => {
    it('a write through one instance is read by another at once (strong reads; local engines cannot be stale)', async () => {
      const other = sdkClient(engine.endpoint);
      const b = await makeStore({ tableName: store.tableName, client: other });
      try {
        const key = newKey();
        await store.create(key, record());
        for (let i = 0; i < 100; i++) {
          const written = await store.patch(key, {
            set: { i: String(i) },
            unset: [],
            expiresAt: Date.now() + 60_000,
          });
          const read = await b.get(key);
          assert.equal(read?.version, written?.version);
          assert.equal(read?.data.i, String(i));
        }
      } finally {
        await b.close();
        other.destroy();
      }
    });
  });

  describe('DynamoDB limits', () => {
    it('a 450 KB value is refused with SessionTooLargeError (413) before any call, earlier data intact', async () => {
      const counter = countCommands(client);
      const key = newKey();
      await store.create(key, record());
      for (const big of [
        JSON.stringify('x'.repeat(450 * 1024)),
        JSON.stringify(randomBytes(340 * 1024).toString('base64')),
      ]) {
        counter.reset();
        await assert.rejects(
          store.patch(key, { set: { big }, unset: [], expiresAt: Date.now() + 60_000 }),
          (err: { code?: string; status?: number }) =>
            err.code === 'BATON_SESSION_TOO_LARGE' && err.status === 413,
        );
        await rejectsWithCode(store.create(newKey(), record({ data: { big } })), 'BATON_SESSION_TOO_LARGE');
        assert.deepEqual(counter.calls, [], 'no call reached DynamoDB');
      }
      const got = await store.get(key);
      assert.deepEqual(got?.data, record().data);
      assert.equal(got?.version, 1);
    });

    it('a session just under the limit is stored; patches that would pass 400 KB are refused', async () => {
      const plain = await makeStore({ compressAbove: 0 });
      const key = newKey();
      // Incompressible: the item is as big as the text.
      const nearly = JSON.stringify(randomBytes(290 * 1024).toString('base64')); // ~387 KB
      await plain.create(key, record({ data: { nearly } }));
      assert.equal((await plain.get(key))?.data.nearly, nearly);
      const more = JSON.stringify(randomBytes(20 * 1024).toString('base64')); // ~27 KB: past 400 KB together
      await rejectsWithCode(
        plain.patch(key, { set: { more }, unset: [], expiresAt: Date.now() + 60_000 }),
        'BATON_SESSION_TOO_LARGE',
      );
      const got = await plain.get(key);
      assert.equal(got?.data.more, undefined);
      assert.equal(got?.version, 1);
    });

    it('a patch of 400 small keys (past 4 KB of expression) falls back to a whole-map write', async () => {
      const counter = countCommands(client);
      const key = newKey();
      await store.create(key, record({ data: { keep: '1', drop: '2' } }));
      const set = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`key-${i}`, String(i)]));
      counter.reset();
      assert.deepEqual(await store.patch(key, { set, unset: ['drop'], expiresAt: Date.now() + 60_000 }), {
        version: 2,
      });
      assert.deepEqual(counter.calls, ['GetItem', 'UpdateItem']);
      const got = await store.get(key);
      assert.equal(Object.keys(got?.data ?? {}).length, 401);
      assert.equal(got?.data.keep, '1');
      assert.equal(got?.data['key-399'], '399');
      // The fallback honours strict versions too.
      await rejectsWithCode(
        store.patch(key, { set, unset: [], expiresAt: Date.now() + 60_000, expectVersion: 1 }),
        'BATON_CONFLICT',
      );
      // ...and a few long key names past 4 KB of expression text.
      const long = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`${'k'.repeat(2000)}${i}`, '1']));
      assert.deepEqual(await store.patch(key, { set: long, unset: [], expiresAt: Date.now() + 60_000 }), {
        version: 3,
      });
    });
  });

  describe('cost', () => {
    it('get, create, patch and touch are one call each; lock two', async () => {
      const counter = countCommands(client);
      const key = newKey();
      counter.reset();
      await store.create(key, record());
      assert.deepEqual(counter.calls, ['PutItem']);
      counter.reset();
      await store.get(key);
      assert.deepEqual(counter.calls, ['GetItem']);
      counter.reset();
      await store.patch(key, { set: { a: '1' }, unset: ['name'], expiresAt: Date.now() + 60_000 });
      assert.deepEqual(counter.calls, ['UpdateItem']);
      counter.reset();
      await store.touch(key, Date.now() + 70_000);
      assert.deepEqual(counter.calls, ['UpdateItem']);
      counter.reset();
      const handle = await store.lock(key, 5_000);
      // The lock item (one unit, so refused attempts are cheap), then the token into the session
      // and the read, in one call. (DescribeTable: the clock's once-a-minute sample may land here.)
      assert.deepEqual(
        counter.calls.filter((c) => c !== 'DescribeTable'),
        ['UpdateItem', 'UpdateItem'],
      );
      await handle?.release();
      counter.reset();
      await store.destroy(key);
      assert.deepEqual(counter.calls, ['DeleteItem']);
    });

    it('reports the capacity units DynamoDB returns, per operation', async () => {
      // Without compression, so the sizes are those of the text.
      const plain = await makeStore({ compressAbove: 0 });
      const seen: OperationInfo[] = [];
      const off = plain.onOperation((info) => seen.push(info));
      const key = newKey();
      const value = JSON.stringify(randomBytes(3_700).toString('base64')); // ~5 KB
      await plain.create(key, record({ data: { value } }));
      await plain.get(key);
      const before = itemSize((await raw(plain.tableName, key)) as Item);
      await plain.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 });
      const afterPatch = itemSize((await raw(plain.tableName, key)) as Item);
      await plain.get(newKey());
      off();
      assert.deepEqual(
        seen.map((i) => i.op),
        ['create', 'get', 'patch', 'get'],
      );
      assert.ok(before > 4096 && before < 6 * 1024);
      // Writes: 1 KB units of the larger of before and after; strong reads: 4 KB units; a miss costs 1.
      assert.equal(seen[0]?.capacityUnits, Math.ceil(before / 1024));
      assert.equal(seen[1]?.capacityUnits, Math.ceil(before / 4096));
      assert.equal(seen[2]?.capacityUnits, Math.ceil(Math.max(before, afterPatch) / 1024));
      assert.equal(seen[3]?.capacityUnits, 1, 'a missing item still costs 1 RCU');

      // A refused write still costs its write units. DynamoDB (and DynamoDB Local) return the item
      // with the refusal; an engine that does not (dynalite) makes the store read it, and that
      // read is reported too.
      const refused: OperationInfo[] = [];
      const stop = plain.onOperation((info) => refused.push(info));
      const sent = countCommands(client);
      await assert.rejects(plain.create(key, record()), { code: 'BATON_SESSION_EXISTS' });
      stop();
      const extraReads = sent.calls.filter((c) => c === 'GetItem').length;
      assert.deepEqual(sent.calls, ['PutItem', ...(extraReads ? ['GetItem'] : [])]);
      assert.equal(
        refused[0]?.capacityUnits,
        Math.ceil(afterPatch / 1024) + extraReads * Math.ceil(afterPatch / 4096),
      );

      const eventual = await makeStore({ tableName: plain.tableName, consistentRead: false });
      const reads: OperationInfo[] = [];
      eventual.onOperation((info) => reads.push(info));
      await eventual.get(key);
      assert.equal(reads[0]?.capacityUnits, Math.ceil(afterPatch / 4096) / 2, 'eventual reads cost half');
    });
  });

  describe('table management', () => {
    it('ensureTable twice: no error, TTL turned on once (or one warning where the engine cannot), table as described', async () => {
      const w = warnings();
      const s = await makeStore({
        onWarning: w.onWarning,
        billing: { mode: 'provisioned', read: 2, write: 3 },
      });
      const ttlOn = (await s.describe()).ttl?.matches === true;
      const counter = countCommands(client);
      await s.ensureTable();
      if (ttlOn) {
        // TTL is on since the first call (AWS, DynamoDB Local): two reads, no second TTL request
        // (DynamoDB refuses a TTL change within an hour of the last), no warning.
        assert.deepEqual(counter.calls, ['DescribeTable', 'DescribeTimeToLive']);
        assert.deepEqual(w.list, []);
      } else {
        // An engine without TTL (dynalite) refuses the request each time; the warning was said once.
        assert.deepEqual(counter.calls, ['DescribeTable', 'DescribeTimeToLive', 'UpdateTimeToLive']);
        assert.equal(w.list.length, 1);
        assert.match(w.list[0] ?? '', /no TTL deleter.*gc/);
      }
      const d = await s.describe();
      assert.equal(d.exists, true);
      assert.equal(d.status, 'ACTIVE');
      assert.deepEqual(d.hashKey, { name: 'id', type: 'S', matches: true });
      assert.equal(d.ttl?.matches, ttlOn);
      assert.equal(d.ttl?.status, ttlOn ? 'ENABLED' : 'DISABLED');
      assert.equal(ttlOn, HAS_TTL, `TTL on ${ENGINE.name}`);
      assert.equal(d.userIndex?.present, true);
      assert.equal(d.userIndex?.keyMatches, true);
      assert.deepEqual(d.provisioned, { read: 2, write: 3 });
    });

    it('ensureTable refuses a table keyed differently', async () => {
      const name = tableName('other-key');
      await client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: 'sid', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'sid', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      const s = await makeStore({ tableName: name });
      await rejectsWithCode(s.ensureTable(), 'BATON_CONFIG', /hashKey/);
      const custom = await makeStore({ tableName: name, hashKey: 'sid' });
      await custom.ensureTable();
      const key = newKey();
      await custom.create(key, record());
      assert.ok(await custom.get(key));
    });

    it('validates options with ConfigError naming the option', () => {
      const bad: Array<[Record<string, unknown>, string]> = [
        [{}, 'tableName'],
        [{ tableName: 'ab', client }, 'tableName'],
        [{ tableName: 'sessions' }, 'client'],
        [{ tableName: 'sessions', client: {} }, 'client'],
        [{ tableName: 'sessions', client, clientConfig: { region: 'us-east-1' } }, 'clientConfig'],
        [{ tableName: 'sessions', client, compressAbove: -1 }, 'compressAbove'],
        [{ tableName: 'sessions', client, compression: 'zstd' }, 'compression'],
        [{ tableName: 'sessions', client, consistentRead: 'yes' }, 'consistentRead'],
        [{ tableName: 'sessions', client, hashKey: '' }, 'hashKey'],
        [{ tableName: 'sessions', client, dataAttribute: 'v' }, 'dataAttribute'],
        [
          { tableName: 'sessions', client, billing: { mode: 'provisioned', read: 0, write: 1 } },
          'billing.read',
        ],
        [
          { tableName: 'sessions', clientConfig: { region: 'us-east-1', maxAttempts: 0 } },
          'clientConfig.maxAttempts',
        ],
        [
          { tableName: 'sessions', clientConfig: { region: 'us-east-1', endpoint: 'not a url' } },
          'clientConfig.endpoint',
        ],
      ];
      for (const [options, option] of bad) {
        assert.throws(
          () => new DynamoDBStore(options as unknown as DynamoDBStoreOptions),
          (err: { code?: string; option?: string }) => err.code === 'BATON_CONFIG' && err.option === option,
          `expected ConfigError on ${option}`,
        );
      }
    });

    it('builds a store from a dynamodb:// URL', async () => {
      assert.deepEqual(
        optionsFromUrl('dynamodb://My-Sessions-Table?region=eu-west-1&consistentRead=false&maxAttempts=4'),
        {
          tableName: 'My-Sessions-Table',
          consistentRead: false,
          clientConfig: { region: 'eu-west-1', maxAttempts: 4 },
        },
      );
      for (const [url, named] of [
        ['dynamodb://sessions?colour=red', /option `url`: unknown parameter `colour` \(known: region,/],
        ['dynamodb://sessions?userIndex=maybe', /option `url`: parameter `userIndex` must be true or false/],
        [
          'dynamodb://sessions?transport=fast',
          /option `url`: parameter `transport` must be lean or sdk, got "fast"/,
        ],
        ['redis://sessions', /option `url`: expected a dynamodb:\/\/ URL/],
      ] as const) {
        assert.throws(
          () => optionsFromUrl(url),
          (err: { code?: string; option?: string; message: string }) =>
            err.code === 'BATON_CONFIG' && err.option === 'url' && named.test(err.message),
        );
      }
      const name = tableName('url');
      const fromUrl = DynamoDBStore.fromUrl(
        `dynamodb://${name}?endpoint=${encodeURIComponent(engine.endpoint)}`,
        {
          ...warnings(),
        },
      );
      stores.push(fromUrl);
      await fromUrl.ensureTable();
      const key = newKey();
      await fromUrl.create(key, record());
      assert.deepEqual((await fromUrl.get(key))?.data, record().data);
      assert.equal(fromUrl.transport, 'lean');
      // The opt-out, through the URL: every call through the SDK client's send().
      const viaSdk = DynamoDBStore.fromUrl(
        `dynamodb://${name}?transport=sdk&endpoint=${encodeURIComponent(engine.endpoint)}`,
        warnings(),
      );
      stores.push(viaSdk);
      assert.equal(viaSdk.transport, 'aws-sdk-v3');
      assert.deepEqual((await viaSdk.get(key))?.data, record().data);
    });

    it('a user client stays open after close(); a closed store refuses calls', async () => {
      const s = await makeStore();
      await s.close();
      await s.close();
      await rejectsWithCode(s.get(newKey()), 'BATON_STORE_UNAVAILABLE', /closed/);
      const out = await client.send(
        new UpdateItemCommand({
          TableName: store.tableName,
          Key: { id: { S: newKey() } },
          UpdateExpression: 'SET x = :x',
          ExpressionAttributeValues: { ':x': { N: '1' } },
        }),
      );
      assert.equal(out.$metadata.httpStatusCode, 200);
    });
  });
});

/**
 * TTL on a real deleter (DynamoDB Local; dynalite has none and skips with a notice): `ensureTable()`
 * turns TTL on for `expires`, an expired session leaves the table by itself (no `gc()`, no read
 * through the store) within a bounded wait while a live one stays, and `baton doctor` reports
 * `TTL ENABLED`.
 *
 * DynamoDB Local's deleter builds the key of each delete from every attribute the table defines,
 * the user index's `uid` included: an expired item without `uid` (an anonymous session) is never
 * deleted on a table with the user index, and the sweep stops there. AWS deletes by the primary key.
 * So the anonymous case runs on a table without the index, and the default table's case on
 * sessions that have a user.
 *
 * DynamoDB Local runs its background jobs on a fixed pool of 10 threads. Three are its schedulers,
 * and every table with TTL on keeps one more for as long as it exists with TTL on (its deletion job
 * scans 20 items, sleeps 10 s and starts over, never ending). So the deleter serves only the first
 * 7 tables that turn TTL on in an engine's life: this file runs in its own process, on its own
 * engine, makes two tables and deletes them at the end. On an engine someone else runs
 * (`BATON_DYNAMODB_ENDPOINT`) that already has 7 tables with TTL on, the test skips and says why.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  DeleteTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  GetItemCommand,
  paginateListTables,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { baton } from '../cli/run.js';
import { newKey, record } from '../conformance/suite.js';
import { ENGINE, HAS_TTL, REGION, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';

/** Tables DynamoDB Local's deleter serves at once: 10 pool threads less its 3 schedulers. */
const DELETER_SLOTS = 7;
/** The bound of the wait; a served table is swept every ~10 s. */
const WAIT_MS = 120_000;
/** Skipped, with a notice, on engines without a deleter. */
const NEEDS_DELETER = {
  skip: HAS_TTL
    ? false
    : `${ENGINE.name} has no TTL deleter (gc() does the deleting: dynamodb-quirks tests it)`,
};

describe(`TTL on a real deleter (${ENGINE.name})`, () => {
  let engine: LocalDynamo;
  let client: DynamoDBClient;
  const stores: DynamoDBStore[] = [];

  const raw = async (table: string, key: string) =>
    (
      await client.send(
        new GetItemCommand({ TableName: table, Key: { id: { S: key } }, ConsistentRead: true }),
      )
    ).Item;

  /** Tables with TTL on: each holds one of the deleter's threads for good. */
  async function ttlTables(): Promise<number> {
    let count = 0;
    for await (const page of paginateListTables({ client }, {})) {
      for (const name of page.TableNames ?? []) {
        const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: name }));
        if (ttl.TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED') count++;
      }
    }
    return count;
  }

  /** A store over a new table, after checking the deleter can still take a table on. */
  async function newStore(
    t: TestContext,
    options: { userIndex: boolean },
  ): Promise<DynamoDBStore | undefined> {
    const busy = await ttlTables();
    if (busy >= DELETER_SLOTS) {
      t.skip(
        `this engine already has ${busy} tables with TTL on: DynamoDB Local's deleter serves only the first ${DELETER_SLOTS} of an engine's life`,
      );
      return undefined;
    }
    const store = new DynamoDBStore({ tableName: tableName('baton-ttl'), client, ...options, ...warnings() });
    stores.push(store);
    const described = await store.ensureTable();
    assert.equal(described.ttl?.supported, true);
    assert.equal(described.ttl?.attribute, 'expires');
    assert.equal(described.ttl?.matches, true);
    return store;
  }

  /**
   * Writes three sessions expiring in a second and a live one, then reads the table raw (nothing of
   * baton's, no gc and no read through the store, deletes anything) until the expired ones are gone.
   */
  async function expiresByItself(t: TestContext, store: DynamoDBStore, userId?: string): Promise<void> {
    const table = store.tableName;
    const now = Date.now();
    const user = userId === undefined ? {} : { userId };
    const expired = [newKey(), newKey(), newKey()];
    for (const key of expired) {
      await store.create(key, record({ expiresAt: now + 1_000, absoluteExpiresAt: now + 60_000, ...user }));
    }
    const live = newKey();
    await store.create(
      live,
      record({ expiresAt: now + 600_000, absoluteExpiresAt: now + 3_600_000, ...user }),
    );
    for (const key of [...expired, live]) assert.ok(await raw(table, key), 'stored');

    const deadline = Date.now() + WAIT_MS;
    let left = expired;
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const present = await Promise.all(left.map(async (key) => (await raw(table, key)) !== undefined));
      left = left.filter((_, i) => present[i]);
    }
    const waited = Math.round((Date.now() - now) / 1000);
    assert.equal(
      left.length,
      0,
      `${left.length} of ${expired.length} expired sessions still there after ${waited} s`,
    );
    t.diagnostic(`expired sessions deleted by the engine within ${waited} s`);
    assert.ok(await raw(table, live), 'the live session is still in the table');
    assert.ok(await store.get(live), 'and still served');
  }

  before(async () => {
    engine = await startEngine();
    client = sdkClient(engine.endpoint);
  });
  after(async () => {
    for (const store of stores) {
      await store.close();
      // Deleting the table frees its deleter thread for whoever shares the engine.
      await client.send(new DeleteTableCommand({ TableName: store.tableName })).catch(() => {});
    }
    client?.destroy();
    await engine?.close();
  });

  it(
    'ensureTable() turns TTL on for `expires`; expired sessions leave the table by itself, a live one stays',
    NEEDS_DELETER,
    async (t) => {
      const store = await newStore(t, { userIndex: false });
      if (store) await expiresByItself(t, store);
    },
  );

  it(
    'on the default table (with the user index), expired sessions of a user leave it by themselves',
    NEEDS_DELETER,
    async (t) => {
      const store = await newStore(t, { userIndex: true });
      if (store) await expiresByItself(t, store, 'u-ttl');
    },
  );

  it('baton doctor reports TTL ENABLED on `expires`', NEEDS_DELETER, async (t) => {
    // The default table (with the user index): doctor checks the index too.
    const store = stores.at(-1) ?? (await newStore(t, { userIndex: true }));
    if (!store) return;
    const url = `dynamodb://${store.tableName}?endpoint=${engine.endpoint}&region=${REGION}`;
    const doctor = await baton(['doctor', '--store', url]);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, /^ {2}ok {4}ttl {4,}TTL ENABLED on `expires`$/m);
  });
});

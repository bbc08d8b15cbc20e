/**
 * Faults dynalite cannot produce, injected with AWS SDK middleware: throttling for k of n
 * attempts, and ambiguous writes (the write happens, then the client sees an HTTP 500 and
 * retries). Plus a refused connection, which is real. Middleware runs only on the SDK path
 * (`transport: 'sdk'`); the lean path's faults come from an HTTP server in
 * dynamodb-transport-faults.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type DynamoDBClient,
  InternalServerError,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { newKey, record } from '../conformance/suite.js';
import {
  awsLiteClient,
  closedEndpoint,
  ENGINE,
  sdkClient,
  startEngine,
  tableName,
  warnings,
} from '../helpers/dynamodb.js';

interface Fault {
  /** Commands the fault applies to (`GetItem`, `UpdateItem`...). */
  commands: string[];
  /** Attempts to fail, counted per command from the fault's start. */
  failFirst: number;
  /** `before`: fail without sending (throttling); `after`: send, then fail (ambiguous write). */
  when: 'before' | 'after';
  error: () => Error;
}

/** Middleware under the SDK's retry loop: sees every attempt. */
function injector(client: DynamoDBClient) {
  let fault: Fault | undefined;
  let failed = 0;
  const attempts: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName).replace(/Command$/, '');
      attempts.push(command);
      const hit = fault?.commands.includes(command) === true && failed < (fault?.failFirst ?? 0);
      if (hit && fault?.when === 'before') {
        failed++;
        throw fault.error();
      }
      const out = await next(args);
      if (hit && fault?.when === 'after') {
        failed++;
        throw fault.error();
      }
      return out;
    },
    { step: 'finalizeRequest', name: `fault-${randomBytes(4).toString('hex')}`, priority: 'low' },
  );
  return {
    attempts,
    set(next: Fault | undefined) {
      fault = next;
      failed = 0;
      attempts.splice(0);
    },
  };
}

const meta = (status: number) => ({ httpStatusCode: status, attempts: 1, totalRetryDelay: 0 });
const throttled = () =>
  new ProvisionedThroughputExceededException({ message: 'injected: rate exceeded', $metadata: meta(400) });
const throttling = () => new ThrottlingException({ message: 'injected: throttled', $metadata: meta(400) });
const serverError = () =>
  new InternalServerError({ message: 'injected: after the write', $metadata: meta(500) });

describe('DynamoDBStore under injected faults', () => {
  let engine: LocalDynamo;
  let client: DynamoDBClient;
  let faults: ReturnType<typeof injector>;
  let store: DynamoDBStore;

  before(async () => {
    engine = await startEngine();
    client = sdkClient(engine.endpoint, { maxAttempts: 3 });
    faults = injector(client);
    store = new DynamoDBStore({ tableName: tableName(), client, transport: 'sdk', ...warnings() });
    await store.ensureTable();
  });
  after(async () => {
    await store?.close();
    client?.destroy();
    await engine?.close();
  });

  describe('throttling', () => {
    it('k < maxAttempts: the call succeeds after exactly k retries', async () => {
      const key = newKey();
      await store.create(key, record());
      faults.set({ commands: ['GetItem'], failFirst: 2, when: 'before', error: throttled });
      assert.deepEqual((await store.get(key))?.data, record().data);
      assert.deepEqual(faults.attempts, ['GetItem', 'GetItem', 'GetItem']);
      faults.set(undefined);
    });

    it('k >= maxAttempts: StoreUnavailableError (503) naming the AWS error, after maxAttempts attempts', async () => {
      const key = newKey();
      await store.create(key, record());
      for (const error of [throttled, throttling]) {
        faults.set({ commands: ['UpdateItem'], failFirst: 10, when: 'before', error });
        await assert.rejects(
          store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
          (err: { code?: string; status?: number; message?: string; cause?: unknown }) => {
            assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
            assert.equal(err.status, 503);
            assert.match(String(err.message), new RegExp(error().name));
            assert.ok(err.cause, 'the AWS error is the cause');
            return true;
          },
        );
        assert.deepEqual(faults.attempts, ['UpdateItem', 'UpdateItem', 'UpdateItem']);
      }
      faults.set(undefined);
      assert.equal((await store.get(key))?.version, 1, 'nothing was written');
    });
  });

  describe('ambiguous writes (HTTP 500 after the write landed)', () => {
    it('a retried patch is applied once: the version advances by one', async () => {
      for (let run = 0; run < 20; run++) {
        const key = newKey();
        await store.create(key, record());
        faults.set({ commands: ['UpdateItem'], failFirst: 1, when: 'after', error: serverError });
        const result = await store.patch(key, {
          set: { n: String(run) },
          unset: [],
          expiresAt: Date.now() + 60_000,
        });
        assert.ok(faults.attempts.filter((a) => a === 'UpdateItem').length >= 2, 'the client retried');
        faults.set(undefined);
        assert.deepEqual(result, { version: 2 });
        const got = await store.get(key);
        assert.equal(got?.version, 2);
        assert.equal(got?.data.n, String(run));
      }
    });

    it('a retried whole-map patch (fallback) is applied once', async () => {
      const key = newKey();
      await store.create(key, record());
      const set = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, String(i)]));
      faults.set({ commands: ['UpdateItem'], failFirst: 1, when: 'after', error: serverError });
      assert.deepEqual(await store.patch(key, { set, unset: [], expiresAt: Date.now() + 60_000 }), {
        version: 2,
      });
      faults.set(undefined);
      assert.equal((await store.get(key))?.version, 2);
    });

    it('a retried create does not report SessionExistsError for its own write', async () => {
      const key = newKey();
      faults.set({ commands: ['PutItem'], failFirst: 1, when: 'after', error: serverError });
      await store.create(key, record());
      // The retry's condition fails on the first attempt's item; an engine that returns the item
      // with the failure (DynamoDB, DynamoDB Local) needs no read to recognise it, dynalite does.
      const read = ENGINE.kind === 'dynalite' ? ['GetItem'] : [];
      assert.deepEqual(faults.attempts, ['PutItem', 'PutItem', ...read]);
      faults.set(undefined);
      assert.deepEqual((await store.get(key))?.data, record().data);
      await assert.rejects(store.create(key, record()), { code: 'BATON_SESSION_EXISTS' });
    });

    it('a retried lock finds its own lock instead of reporting it taken', async () => {
      const key = newKey();
      await store.create(key, record());
      faults.set({ commands: ['UpdateItem'], failFirst: 1, when: 'after', error: serverError });
      const handle = await store.lock(key, 5_000);
      faults.set(undefined);
      assert.ok(handle?.session, 'lock acquired');
      assert.equal(await store.lock(key, 5_000), null, 'and held');
      await handle.release();
    });

    it('a strict patch retried after landing is not a conflict with itself', async () => {
      const key = newKey();
      await store.create(key, record());
      faults.set({ commands: ['UpdateItem'], failFirst: 1, when: 'after', error: serverError });
      assert.deepEqual(
        await store.patch(key, {
          set: { a: '1' },
          unset: [],
          expiresAt: Date.now() + 60_000,
          expectVersion: 1,
        }),
        { version: 2 },
      );
      faults.set(undefined);
    });
  });

  describe('gc under throttling', () => {
    it('sends unprocessed deletes again until every expired record is gone, with progress and capacity', async () => {
      const gcStore = new DynamoDBStore({
        tableName: tableName(),
        client,
        transport: 'sdk',
        scanSegments: 3,
        ...warnings(),
      });
      await gcStore.ensureTable();
      const now = Date.now();
      const expired = Array.from({ length: 60 }, () => newKey());
      const live = Array.from({ length: 5 }, () => newKey());
      for (const key of expired)
        await gcStore.create(key, record({ createdAt: now - 10_000, expiresAt: now - 1_000 }));
      for (const key of live) await gcStore.create(key, record());

      // DynamoDB under pressure processes part of a batch and hands back the rest as UnprocessedItems.
      let partial = 3;
      let batches = 0;
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName !== 'BatchWriteItemCommand') return next(args);
          batches++;
          const input = args.input as { RequestItems: Record<string, unknown[]> };
          const [table, requests] = Object.entries(input.RequestItems)[0] as [string, unknown[]];
          if (partial <= 0 || requests.length < 2) return next(args);
          partial--;
          const kept = requests.slice(0, 2);
          const out = await next({ ...args, input: { ...input, RequestItems: { [table]: kept } } });
          (out.output as { UnprocessedItems?: Record<string, unknown[]> }).UnprocessedItems = {
            [table]: requests.slice(2),
          };
          return out;
        },
        { step: 'initialize', name: 'partial-batches' },
      );
      const progress: Array<{ scanned: number; deleted: number; capacityUnits?: number }> = [];
      const dry = await gcStore.gc({ dryRun: true });
      assert.equal(dry.deleted, 60);
      assert.equal(batches, 0, 'a dry run deletes nothing');
      const result = await gcStore.gc({ rate: 10_000, onProgress: (p) => progress.push({ ...p }) });
      client.middlewareStack.remove('partial-batches');
      assert.equal(result.deleted, 60);
      assert.equal(result.scanned, 65);
      assert.ok(batches > Math.ceil(60 / 25), `unprocessed items were sent again (${batches} batches)`);
      for (let i = 1; i < progress.length; i++) {
        assert.ok(progress[i]!.deleted >= progress[i - 1]!.deleted, 'progress only moves forward');
      }
      assert.equal(progress.at(-1)?.deleted, 60);
      assert.ok((progress.at(-1)?.capacityUnits ?? 0) > 0, 'capacity units are counted');
      const left: string[] = [];
      for await (const summary of gcStore.scan({ includeExpired: true })) left.push(summary.key);
      assert.deepEqual(left.sort(), live.sort());
      await gcStore.close();
    });
  });

  describe('unreachable endpoint', () => {
    it('a refused connection is StoreUnavailableError with the cause, never an empty session', async () => {
      const endpoint = await closedEndpoint();
      const w = warnings();
      const down = new DynamoDBStore({
        tableName: tableName(),
        clientConfig: {
          endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          maxAttempts: 1,
        },
        onWarning: w.onWarning,
      });
      await assert.rejects(
        down.get(newKey()),
        (err: { code?: string; message?: string; cause?: unknown }) => {
          assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
          assert.match(String(err.message), /GetItem/);
          assert.ok(err.cause);
          return true;
        },
      );
      await down.close();
      await down.close();

      const lite = new DynamoDBStore({ tableName: tableName(), client: await awsLiteClient(endpoint) });
      await assert.rejects(lite.get(newKey()), (err: { code?: string; message?: string }) => {
        assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
        assert.match(String(err.message), /GetItem .* ECONNREFUSED/);
        return true;
      });
    });
  });
});

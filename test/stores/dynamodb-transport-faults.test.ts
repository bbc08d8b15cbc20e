/**
 * The lean transport under faults served by an HTTP server in front of the engine (no SDK
 * middleware runs on this path): throttling answers, an HTTP 500 after the engine ran a write,
 * connections dropped before and after the engine ran the request. Each retry is the SDK retry
 * strategy's decision (its jittered backoff and quota), asked with the SDK's error type.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { newKey, record } from '../conformance/suite.js';
import {
  CREDENTIALS,
  ENGINE,
  REGION,
  sdkClient,
  startEngine,
  tableName,
  warnings,
} from '../helpers/dynamodb.js';
import { SigningProxy } from './dynamodb-transport-proxy.js';

type Strategy = { refreshRetryTokenForRetry(token: unknown, info: { errorType: string }): Promise<unknown> };

describe(`lean DynamoDB transport under faults on ${ENGINE.name}`, () => {
  let engine: LocalDynamo;
  let proxy: SigningProxy;
  let client: DynamoDBClient;
  let store: DynamoDBStore;
  /** Error types the SDK strategy was asked to retry, in order. */
  const retries: string[] = [];

  before(async () => {
    engine = await startEngine();
    proxy = await new SigningProxy(engine.endpoint, REGION).start();
    proxy.keys.set(CREDENTIALS.accessKeyId, { secretAccessKey: CREDENTIALS.secretAccessKey });
    client = sdkClient(proxy.endpoint, { maxAttempts: 3 });
    const config = client.config as unknown as { retryStrategy: () => Promise<Strategy> };
    const strategy = await config.retryStrategy();
    assert.equal(await config.retryStrategy(), strategy, "the client's one strategy");
    const refresh = strategy.refreshRetryTokenForRetry.bind(strategy);
    strategy.refreshRetryTokenForRetry = (token, info) => {
      retries.push(info.errorType);
      return refresh(token, info);
    };
    store = new DynamoDBStore({ tableName: tableName(), client, ...warnings() });
    assert.equal(store.transport, 'lean');
    await store.ensureTable();
  });
  after(async () => {
    await store?.close();
    client?.destroy();
    await proxy?.close();
    await engine?.close();
  });
  beforeEach(() => {
    proxy.faults.clear();
    proxy.attempts.splice(0);
    retries.splice(0);
  });

  const attempts = (operation: string) => proxy.attempts.filter((a) => a.operation === operation).length;
  const answer = (type: string, status = 400) => ({
    kind: 'answer' as const,
    status,
    type,
    message: `injected: ${type}`,
  });

  it('throttled k < maxAttempts times: succeeds after exactly k retries, each backed off by the SDK strategy', async () => {
    const key = newKey();
    await store.create(key, record());
    proxy.faults.set('GetItem', [
      answer('ProvisionedThroughputExceededException'),
      answer('ThrottlingException'),
    ]);
    assert.deepEqual((await store.get(key))?.data, record().data);
    assert.equal(attempts('GetItem'), 3);
    assert.deepEqual(retries, ['THROTTLING', 'THROTTLING']);
  });

  it('throttled maxAttempts times: StoreUnavailableError (503) naming the AWS error; nothing written', async () => {
    const key = newKey();
    await store.create(key, record());
    proxy.attempts.splice(0);
    proxy.faults.set(
      'UpdateItem',
      Array.from({ length: 10 }, () => answer('ThrottlingException')),
    );
    await assert.rejects(
      store.patch(key, { set: { a: '1' }, unset: [], expiresAt: Date.now() + 60_000 }),
      (err: { code?: string; status?: number; message?: string; cause?: unknown }) => {
        assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
        assert.equal(err.status, 503);
        assert.match(String(err.message), /UpdateItem .*ThrottlingException \(HTTP 400\)/);
        assert.ok(err.cause, 'the AWS error is the cause');
        return true;
      },
    );
    assert.equal(attempts('UpdateItem'), 3);
    proxy.faults.clear();
    assert.equal((await store.get(key))?.version, 1, 'nothing was written');
  });

  it('a client error (access denied) is not retried', async () => {
    proxy.faults.set('GetItem', [answer('AccessDeniedException')]);
    await assert.rejects(store.get(newKey()), /AccessDeniedException/);
    assert.equal(attempts('GetItem'), 1);
  });

  it('an HTTP 500 after the engine ran a patch: retried, applied once (the version advances by one)', async () => {
    for (let run = 0; run < 5; run++) {
      const key = newKey();
      await store.create(key, record());
      proxy.attempts.splice(0);
      retries.splice(0);
      proxy.faults.set('UpdateItem', [{ kind: 'after', status: 500, type: 'InternalServerError' }]);
      const result = await store.patch(key, {
        set: { n: String(run) },
        unset: [],
        expiresAt: Date.now() + 60_000,
      });
      assert.ok(attempts('UpdateItem') >= 2, 'the transport retried');
      assert.equal(retries[0], 'TRANSIENT');
      assert.deepEqual(result, { version: 2 });
      const got = await store.get(key);
      assert.equal(got?.version, 2);
      assert.equal(got?.data.n, String(run));
    }
  });

  it('an HTTP 500 after the engine ran a create: no SessionExistsError for its own write', async () => {
    const key = newKey();
    proxy.faults.set('PutItem', [{ kind: 'after', status: 500, type: 'InternalServerError' }]);
    await store.create(key, record());
    assert.equal(attempts('PutItem'), 2);
    assert.deepEqual((await store.get(key))?.data, record().data);
    await assert.rejects(store.create(key, record()), { code: 'BATON_SESSION_EXISTS' });
  });

  it('a connection dropped before the engine saw the request is retried', async () => {
    const key = newKey();
    await store.create(key, record());
    proxy.faults.set('GetItem', [{ kind: 'drop-before' }]);
    assert.deepEqual((await store.get(key))?.data, record().data);
    assert.equal(attempts('GetItem'), 2);
    assert.deepEqual(retries, ['TRANSIENT']);
  });

  it('a connection dropped after the engine ran a patch: retried, applied once', async () => {
    const key = newKey();
    await store.create(key, record());
    proxy.faults.set('UpdateItem', [{ kind: 'drop-after' }]);
    assert.deepEqual(await store.patch(key, { set: { d: '1' }, unset: [], expiresAt: Date.now() + 60_000 }), {
      version: 2,
    });
    assert.ok(attempts('UpdateItem') >= 2);
    assert.equal((await store.get(key))?.data.d, '1');
  });

  it('a refused connection is StoreUnavailableError naming the operation and the network error', async () => {
    const down = new DynamoDBStore({
      tableName: tableName(),
      client: sdkClient('http://127.0.0.1:1', { maxAttempts: 2 }),
      ...warnings(),
    });
    await assert.rejects(down.get(newKey()), (err: { code?: string; message?: string }) => {
      assert.equal(err.code, 'BATON_STORE_UNAVAILABLE');
      assert.match(String(err.message), /GetItem .*ECONNREFUSED/);
      return true;
    });
    await down.close();
  });
});

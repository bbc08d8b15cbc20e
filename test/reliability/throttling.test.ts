/**
 * FLT-04 through the framework: DynamoDB throttling injected with AWS SDK middleware (dynalite
 * cannot throttle) for k of the attempts of each call. k < maxAttempts: the request succeeds after
 * exactly k retries; k ≥ maxAttempts: 503 through Express naming the AWS error, attempts never
 * above maxAttempts, the user's cookie untouched.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { ENGINE, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';
import { makeApp } from '../helpers/express-app.js';
import { close, Jar, listen } from '../helpers/http.js';

const MAX_ATTEMPTS = 3;

describe(`FLT-04 throttling through Express on DynamoDB (${ENGINE.name} + SDK middleware)`, () => {
  let engine: LocalDynamo;
  let client: DynamoDBClient;
  let server: Server;
  let base: string;
  let store: DynamoDBStore;
  let failNext = 0;
  let error: () => Error = () => new Error('unset');
  const attempts: string[] = [];

  before(async () => {
    engine = await startEngine();
    client = sdkClient(engine.endpoint, { maxAttempts: MAX_ATTEMPTS });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName).replace(/Command$/, '');
        attempts.push(command);
        if (failNext > 0) {
          failNext--;
          throw error();
        }
        return next(args);
      },
      { step: 'finalizeRequest', name: `throttle-${randomBytes(4).toString('hex')}`, priority: 'low' },
    );
    // Faults are injected as SDK middleware, which only the `sdk` transport runs (the lean path's
    // faults: test/stores/dynamodb-transport-faults.test.ts).
    store = new DynamoDBStore({ tableName: tableName(), client, transport: 'sdk', ...warnings() });
    await store.ensureTable();
    server = createServer(makeApp({ store }).app);
    base = await listen(server);
  });
  after(async () => {
    await close(server);
    await store.close();
    client.destroy();
    await engine.close();
  });

  const meta = { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 };
  const kinds: [string, () => Error][] = [
    [
      'ProvisionedThroughputExceededException',
      () => new ProvisionedThroughputExceededException({ message: 'injected', $metadata: meta }),
    ],
    ['ThrottlingException', () => new ThrottlingException({ message: 'injected', $metadata: meta })],
  ];

  for (const [name, make] of kinds) {
    it(`${name}: k < maxAttempts succeeds after exactly k retries; k ≥ maxAttempts is a 503 naming it`, async (t) => {
      const jar = new Jar();
      await jar.request(base, '/set', { json: { key: 'a', value: 1 } });
      const cookie = jar.cookie;
      error = make;
      for (let k = 1; k < MAX_ATTEMPTS; k++) {
        attempts.length = 0;
        failNext = k;
        const r = await jar.request(base, '/state');
        assert.equal(r.status, 200, `k = ${k}`);
        assert.equal(r.body.data.a, 1);
        assert.deepEqual(attempts, Array(k + 1).fill('GetItem'), `exactly ${k} retries`);
      }
      attempts.length = 0;
      failNext = 100;
      const started = Date.now();
      const r = await jar.request(base, '/state');
      const took = Date.now() - started;
      failNext = 0;
      assert.equal(r.status, 503);
      assert.equal(r.body.code, 'BATON_STORE_UNAVAILABLE');
      assert.match(r.body.message, new RegExp(name));
      assert.equal(attempts.length, MAX_ATTEMPTS, 'attempts never exceed maxAttempts');
      assert.equal(r.setCookie.length, 0, 'the cookie is untouched');
      assert.equal(jar.cookie, cookie);
      t.diagnostic(`${name}: 503 after ${attempts.length} attempts in ${took} ms`);
      assert.equal((await jar.request(base, '/state')).body.data.a, 1, 'fine once the throttling stops');
    });
  }
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { type AwsLiteClient, awsLiteEndpoint } from '../../src/stores/dynamodb/transport.js';
import { storeConformance } from '../../src/testing/index.js';
import { awsLiteClient, ENGINE, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';

describe(`DynamoDBStore on ${ENGINE.name}`, () => {
  let engine: LocalDynamo;
  let sdk: DynamoDBClient;
  let lite: AwsLiteClient;
  let liteJson: AwsLiteClient;
  before(async () => {
    engine = await startEngine();
    sdk = sdkClient(engine.endpoint);
    lite = await awsLiteClient(engine.endpoint);
    // As docs/dynamodb.md recommends for a DynamoDB-only client: replies parsed as plain JSON.
    liteJson = await awsLiteClient(engine.endpoint, { responseContentType: 'application/json' });
  });
  after(async () => {
    sdk?.destroy();
    await engine?.close();
  });

  const make = async (client: () => DynamoDBClient | AwsLiteClient, transport?: 'lean' | 'sdk') => {
    const store = new DynamoDBStore({
      tableName: tableName(),
      client: client(),
      ...(transport === undefined ? {} : { transport }),
      ...warnings(),
    });
    await store.ensureTable();
    return store;
  };

  storeConformance({
    name: 'DynamoDBStore (AWS SDK v3, lean transport by default)',
    create: () => make(() => sdk),
  });
  storeConformance({
    name: "DynamoDBStore (AWS SDK v3, transport: 'sdk')",
    create: () => make(() => sdk, 'sdk'),
  });
  storeConformance({ name: 'DynamoDBStore (aws-lite)', create: () => make(() => lite) });
  storeConformance({
    name: "DynamoDBStore (aws-lite, responseContentType 'application/json')",
    create: () => make(() => liteJson),
  });
  storeConformance({
    name: 'DynamoDBStore (own client from clientConfig)',
    create: async () => {
      const store = new DynamoDBStore({
        tableName: tableName(),
        clientConfig: {
          endpoint: engine.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        },
        ...warnings(),
      });
      await store.ensureTable();
      return store;
    },
  });

  it('sends each aws-lite request with its endpoint, so aws-lite throws no exception per call', async () => {
    assert.equal(awsLiteEndpoint((lite as { config?: never }).config), engine.endpoint.replace(/\/$/, ''));
    const store = await make(() => lite);
    await store.create('k1', {
      data: { a: '1' },
      createdAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      absoluteExpiresAt: Date.now() + 120_000,
      version: 1,
    });
    // aws-lite's host parsing used to be a `new URL(undefined)` that threw on every call.
    const Original = globalThis.URL;
    let thrown = 0;
    let parsed = 0;
    globalThis.URL = new Proxy(Original, {
      construct(target, args) {
        parsed++;
        try {
          return Reflect.construct(target, args);
        } catch (err) {
          thrown++;
          throw err;
        }
      },
    });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await store.get('k1'))?.data.a, '1');
    } finally {
      globalThis.URL = Original;
    }
    assert.ok(parsed >= 5, `aws-lite parsed ${parsed} URLs`);
    assert.equal(thrown, 0);
  });
});

describe('awsLiteEndpoint', () => {
  it("names the client's configured endpoint, or DynamoDB's Regional one", () => {
    assert.equal(
      awsLiteEndpoint({ region: 'us-east-1', host: '127.0.0.1', port: 8000, protocol: 'http:' }),
      'http://127.0.0.1:8000',
    );
    assert.equal(
      awsLiteEndpoint({ region: 'eu-west-1', host: 'vpce.example', protocol: 'https:', pathPrefix: '/ddb' }),
      'https://vpce.example/ddb',
    );
    assert.equal(awsLiteEndpoint({ region: 'eu-west-1' }), 'https://dynamodb.eu-west-1.amazonaws.com');
    assert.equal(awsLiteEndpoint({}), undefined);
    assert.equal(awsLiteEndpoint(undefined), undefined);
    assert.equal(awsLiteEndpoint({ region: 'x', host: 'a/b' }), undefined);
    assert.equal(awsLiteEndpoint({ region: 'x', host: 'h', protocol: 'ftp:' }), undefined);
  });
});

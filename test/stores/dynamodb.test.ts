import { after, before, describe } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import type { AwsLiteClient } from '../../src/stores/dynamodb/transport.js';
import { storeConformance } from '../conformance/suite.js';
import { awsLiteClient, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';

describe('DynamoDBStore on dynalite', () => {
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

  const make = async (client: () => DynamoDBClient | AwsLiteClient) => {
    const store = new DynamoDBStore({ tableName: tableName(), client: client(), ...warnings() });
    await store.ensureTable();
    return store;
  };

  storeConformance('DynamoDBStore (AWS SDK v3)', () => make(() => sdk));
  storeConformance('DynamoDBStore (aws-lite)', () => make(() => lite));
  storeConformance("DynamoDBStore (aws-lite, responseContentType 'application/json')", () =>
    make(() => liteJson),
  );
  storeConformance('DynamoDBStore (own client from clientConfig)', async () => {
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
  });
});

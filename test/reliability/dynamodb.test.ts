/** The reliability rows on DynamoDB (the run's engine on a free port); raw dump by Scan. */
import { after, before, describe } from 'node:test';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { ENGINE, sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';
import { reliabilitySuite } from './store-suite.js';

describe(`DynamoDB (${ENGINE.name})`, () => {
  let engine: LocalDynamo;
  let sdk: DynamoDBClient;
  const table = tableName('baton-rel');
  before(async () => {
    engine = await startEngine();
    sdk = sdkClient(engine.endpoint);
  });
  after(async () => {
    sdk?.destroy();
    await engine?.close();
  });

  reliabilitySuite(
    'DynamoDBStore',
    async () => {
      const store = new DynamoDBStore({ tableName: table, client: sdk, ...warnings() });
      await store.ensureTable();
      return store;
    },
    {
      repeat: 3,
      logoutRuns: 30,
      sessions: 100,
      expiryGranularityMs: 1000,
      expiryWriters: 4,
      expirySamples: 200,
      dump: async () => {
        const out: string[] = [];
        let start: Record<string, unknown> | undefined;
        do {
          const page = await sdk.send(
            new ScanCommand({ TableName: table, ExclusiveStartKey: start as never }),
          );
          for (const item of page.Items ?? []) out.push(JSON.stringify(item));
          start = page.LastEvaluatedKey;
        } while (start);
        return out;
      },
    },
  );
});

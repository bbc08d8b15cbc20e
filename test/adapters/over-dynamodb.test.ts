/**
 * The adapter suite over a real networked store: DynamoDB (the run's engine) under Fastify
 * (a Node response) and Hono (a Fetch response). Commit-before-response, logout and outage cases
 * then run against store calls that cross a socket, as they do in production.
 */
import { after, before } from 'node:test';
import { DynamoDBStore, type LocalDynamo } from '../../src/stores/dynamodb/index.js';
import { adapterSuite } from '../helpers/adapter-suite.js';
import { CREDENTIALS, ENGINE, REGION, startEngine, tableName } from '../helpers/dynamodb.js';
import { startFastify } from '../helpers/fastify-app.js';
import { makeApp, serve } from '../helpers/hono-app.js';

let dynamo: LocalDynamo;
const table = tableName('adapters');

before(async () => {
  dynamo = await startEngine();
  const store = newStore();
  await store.ensureTable();
  await store.close();
});
after(() => dynamo.close());

function newStore(): DynamoDBStore {
  return new DynamoDBStore({
    tableName: table,
    clientConfig: { endpoint: dynamo.endpoint, region: REGION, credentials: CREDENTIALS },
  });
}

adapterSuite(`Fastify over DynamoDB (${ENGINE.name})`, startFastify, { newStore });
adapterSuite(
  `Hono over DynamoDB (${ENGINE.name})`,
  (options, name, tls) => serve(makeApp(options, name), tls),
  { newStore },
);

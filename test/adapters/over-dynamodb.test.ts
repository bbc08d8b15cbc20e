/**
 * The adapter suite over a real networked store: DynamoDB (dynalite, in this process) under Fastify
 * (a Node response) and Hono (a Fetch response). Commit-before-response, logout and outage cases
 * then run against store calls that cross a socket, as they do in production.
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { DynamoDBStore, type LocalDynamo, startLocalDynamo } from '../../src/stores/dynamodb/index.js';
import { adapterSuite } from '../helpers/adapter-suite.js';
import { startFastify } from '../helpers/fastify-app.js';
import { makeApp, serve } from '../helpers/hono-app.js';

let dynamo: LocalDynamo;
const table = `adapters-${randomBytes(4).toString('hex')}`;

before(async () => {
  dynamo = await startLocalDynamo({ port: 0, memory: true });
  const store = newStore();
  await store.ensureTable();
  await store.close();
});
after(() => dynamo.close());

function newStore(): DynamoDBStore {
  return new DynamoDBStore({
    tableName: table,
    clientConfig: {
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    },
  });
}

adapterSuite('Fastify over DynamoDB', startFastify, { newStore });
adapterSuite('Hono over DynamoDB', (options, name, tls) => serve(makeApp(options, name), tls), { newStore });

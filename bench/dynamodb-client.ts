/**
 * Client CPU per DynamoDB call, by client and SDK v3 setting, against dynalite on loopback.
 *
 *   node --import tsx bench/dynamodb-client.ts [calls=2000] [rounds=5]
 *
 * dynalite runs in a child process, so this process's CPU time is the client's alone. Each
 * configuration gets a warm-up, then `calls` GetItems of a ~1 KB session, 8 in flight, in
 * interleaved rounds (the median is shown, so a noisy neighbour skews one round only). The
 * numbers are for comparing configurations on one machine, not absolute figures.
 */
import { fork } from 'node:child_process';
import { Agent as HttpAgent } from 'node:http';
import awsLite from '@aws-lite/client';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { AwsLiteClient } from '../src/stores/dynamodb/index.js';
import { DynamoDBStore } from '../src/stores/dynamodb/index.js';

const CALLS = Number(process.argv[2] ?? 2000);
const IN_FLIGHT = 8;
const ROUNDS = Number(process.argv[3] ?? 5);
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const region = 'us-east-1';

async function startEngine(): Promise<{ endpoint: string; stop: () => void }> {
  const engine = fork('', [], {
    execArgv: [
      '-e',
      `const s = require('dynalite')({ createTableMs: 0 }); s.listen(0, '127.0.0.1', () => process.send(s.address().port));`,
    ],
  });
  const port = await new Promise<number>((resolve) => engine.once('message', (m) => resolve(Number(m))));
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => engine.kill() };
}

const cases: Array<{ name: string; call: () => Promise<unknown>; cpu: number[]; rate: number[] }> = [];

function measure(name: string, call: () => Promise<unknown>): void {
  cases.push({ name, call, cpu: [], rate: [] });
}

async function once(c: (typeof cases)[number]): Promise<void> {
  const call = c.call;
  const run = async (n: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next++ < n) await call();
      }),
    );
  };
  await run(Math.min(500, CALLS));
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run(CALLS);
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  c.cpu.push((used.user + used.system) / CALLS);
  c.rate.push((CALLS / wall) * 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const engine = await startEngine();
const setup = new DynamoDBClient({ endpoint: engine.endpoint, region, credentials });
await setup.send(
  new CreateTableCommand({
    TableName: 'bench',
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
  }),
);
await new Promise((r) => setTimeout(r, 100));
const store0 = new DynamoDBStore({ tableName: 'bench', client: setup });
const now = Date.now();
await store0.create('k', {
  data: { name: '"Jack Sparrow"', basket: JSON.stringify(Array.from({ length: 40 }, (_, i) => `item-${i}`)) },
  createdAt: now,
  expiresAt: now + 3_600_000,
  absoluteExpiresAt: now + 3_600_000,
  version: 1,
});
await setup.send(new PutItemCommand({ TableName: 'bench', Item: { id: { S: 'raw' } } }));
const key = { id: { S: 'k' } };
const input = { TableName: 'bench', Key: key, ConsistentRead: true };

console.log(
  `GetItem of a ~1 KB session, ${CALLS} calls, ${IN_FLIGHT} in flight, median of ${ROUNDS} interleaved rounds, Node ${process.version}`,
);
console.log('| client and settings | client CPU per call | calls per second |');
console.log('|---|---|---|');

const sdkDefault = new DynamoDBClient({ endpoint: engine.endpoint, region, credentials });
measure('SDK v3, defaults', () => sdkDefault.send(new GetItemCommand(input)));

// Settings the DynamoDB client's types do not declare (flexible checksums are an S3 feature):
// passed as the store passes them, to see whether they change anything.
const checksums = {
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
};
const sdkChecksums = new DynamoDBClient({ endpoint: engine.endpoint, region, credentials, ...checksums });
measure('SDK v3, checksums WHEN_REQUIRED', () => sdkChecksums.send(new GetItemCommand(input)));

const sdkNoKeepAlive = new DynamoDBClient({
  endpoint: engine.endpoint,
  region,
  credentials,
  requestHandler: { httpAgent: new HttpAgent({ keepAlive: false }) },
});
const sdkTimeout = new DynamoDBClient({
  endpoint: engine.endpoint,
  region,
  credentials,
  requestHandler: { requestTimeout: 3000, connectionTimeout: 3000 },
});
measure('SDK v3, keep-alive off', () => sdkNoKeepAlive.send(new GetItemCommand(input)));
measure('SDK v3, request and connection timeouts 3 s', () => sdkTimeout.send(new GetItemCommand(input)));

const own = new DynamoDBStore({
  tableName: 'bench',
  clientConfig: { endpoint: engine.endpoint, region, credentials },
});
measure("store.get, clientConfig (the store's own SDK v3 client, lean transport)", () => own.get('k'));

const sdkStore = new DynamoDBStore({ tableName: 'bench', client: sdkDefault });
measure('store.get, a default SDK v3 client (lean transport, the default)', () => sdkStore.get('k'));

/** An agent of its own class (as a proxy agent is): the lean transport sends through it with node:http. */
class OwnAgent extends HttpAgent {}
const ownAgentStore = new DynamoDBStore({
  tableName: 'bench',
  client: new DynamoDBClient({
    endpoint: engine.endpoint,
    region,
    credentials,
    requestHandler: { httpAgent: new OwnAgent({ keepAlive: true }) },
  }),
});
measure('store.get, an SDK v3 client on an Agent subclass (lean transport over node:http)', () =>
  ownAgentStore.get('k'),
);

const sendStore = new DynamoDBStore({ tableName: 'bench', client: sdkDefault, transport: 'sdk' });
measure("store.get, a default SDK v3 client, transport: 'sdk' (client.send)", () => sendStore.get('k'));

const liteClient: AwsLiteClient = await awsLite({
  endpoint: engine.endpoint,
  region,
  ...credentials,
  autoloadPlugins: false,
});
measure('aws-lite, raw GetItem', () =>
  liteClient({
    service: 'dynamodb',
    headers: { 'X-Amz-Target': 'DynamoDB_20120810.GetItem', 'content-type': 'application/x-amz-json-1.0' },
    awsjson: false,
    payload: input,
  }),
);
const liteStore = new DynamoDBStore({ tableName: 'bench', client: liteClient });
measure('store.get, aws-lite', () => liteStore.get('k'));

for (let round = 0; round < ROUNDS; round++) for (const c of cases) await once(c);
for (const c of cases) {
  console.log(`| ${c.name} | ${median(c.cpu).toFixed(0)} µs | ${median(c.rate).toFixed(0)}/s |`);
}

for (const c of [setup, sdkDefault, sdkChecksums, sdkNoKeepAlive, sdkTimeout]) c.destroy();
await own.close();
engine.stop();

/**
 * Amazon's DynamoDB Local as the benchmarks' DynamoDB engine (`npm run bench -- --engine
 * dynamodb-local`), run from this process: the JVM (heap capped) behind a small counting proxy on
 * loopback, so calls are counted by their `X-Amz-Target` as bench/dynalite-engine.ts counts them.
 * The proxy adds one loopback hop to every call, for every app alike.
 *
 * A fresh JVM answers its first calls slowly (on 2 loaded cores the first app's CreateTable and
 * first requests took 15 s, where dynalite takes well under one): before `ready`, the engine's
 * table and item paths are warmed up on a table of their own (sent past the proxy, so not counted),
 * which is deleted again. The warm-up table has no TTL: each table with TTL on holds one of
 * DynamoDB Local's 7 background-job threads for as long as it exists (docs/dynamodb.md).
 *
 * The paired comparisons, which count nothing, go to the JVM directly (`directPort`): the proxy's
 * own CPU per call, on the same cores, would narrow every ratio toward 1.
 *
 * IPC: sends `{ type: 'ready', port, directPort, startMs, warmupMs }`; answers `{ type: 'counts' }` with
 * `{ type: 'counts', counts }`.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { startLocalDynamo } from '../src/stores/dynamodb/index.js';

/** Warm-up: this many rounds of put, get, conditional update and conditional delete, 8 in flight… */
const WARMUP_ROUNDS = 400;
/** …or until this much time has passed, whichever comes first. */
const WARMUP_MAX_MS = 30_000;

const started = Date.now();
const engine = await startLocalDynamo({ engine: 'dynamodb-local', port: 0, memory: true, maxHeapMb: 1024 });
const startMs = Date.now() - started;
const warmupMs = await warmUp(engine.endpoint);
const target = new URL(engine.endpoint);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const counts: Record<string, number> = {};

const server = createServer((req, res) => {
  const header = req.headers['x-amz-target'];
  const op = typeof header === 'string' ? (header.split('.').pop() ?? header) : 'unknown';
  counts[op] = (counts[op] ?? 0) + 1;
  const upstream = request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    },
    (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    },
  );
  upstream.on('error', (err) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`DynamoDB Local: ${err.message}`);
  });
  req.pipe(upstream);
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({
    type: 'ready',
    port: (server.address() as AddressInfo).port,
    directPort: Number(target.port),
    startMs,
    warmupMs,
  });
});

process.on('message', (message: { type: string }) => {
  if (message.type === 'counts') process.send?.({ type: 'counts', counts: { ...counts } });
});
// The runner going away ends the engine (and its JVM) too. The runner stops this process with
// SIGTERM (SIGKILL 3 s later), which skips 'exit' handlers: without these the JVM outlived every
// run. `close()` sends the JVM its SIGTERM at once, so it goes even if this process is killed.
const end = () => {
  void engine.close().finally(() => process.exit(0));
};
process.on('disconnect', end);
process.once('SIGTERM', end);
process.once('SIGINT', end);

/** The calls a session store makes, on a table shaped like baton's; returns the time it took. */
async function warmUp(endpoint: string): Promise<number> {
  const begin = Date.now();
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const TableName = `bench-warmup-${process.pid}`;
  try {
    await client.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'id', AttributeType: 'S' },
          { AttributeName: 'uid', AttributeType: 'S' },
        ],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'uid-index',
            KeySchema: [{ AttributeName: 'uid', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      }),
    );
    await client.send(new DescribeTableCommand({ TableName }));
    const deadline = begin + WARMUP_MAX_MS;
    let next = 0;
    const worker = async () => {
      while (next < WARMUP_ROUNDS && Date.now() < deadline) {
        const Key = { id: { S: `warm-${next++}` } };
        const expires = { N: String(Math.ceil(Date.now() / 1000) + 3600) };
        await client.send(
          new PutItemCommand({
            TableName,
            Item: { ...Key, expires, v: { N: '1' }, data: { M: { a: { S: '"x"' } } } },
            ConditionExpression: 'attribute_not_exists(id)',
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        await client.send(
          new GetItemCommand({ TableName, Key, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }),
        );
        await client.send(
          new UpdateItemCommand({
            TableName,
            Key,
            UpdateExpression: 'SET #d.#a = :a, #v = :v2',
            ConditionExpression: '#v = :v1',
            ExpressionAttributeNames: { '#d': 'data', '#a': 'a', '#v': 'v' },
            ExpressionAttributeValues: { ':a': { S: '"y"' }, ':v1': { N: '1' }, ':v2': { N: '2' } },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        await client.send(
          new DeleteItemCommand({ TableName, Key, ConditionExpression: 'attribute_exists(id)' }),
        );
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await client.send(new DeleteTableCommand({ TableName }));
  } finally {
    client.destroy();
  }
  return Date.now() - begin;
}

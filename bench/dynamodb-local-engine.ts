/**
 * Amazon's DynamoDB Local as the benchmarks' DynamoDB engine (`npm run bench -- --engine
 * dynamodb-local`), run from this process: the JVM (heap capped) behind a small counting proxy on
 * loopback, so calls are counted by their `X-Amz-Target` as bench/dynalite-engine.ts counts them.
 * The proxy adds one loopback hop to every call, for every app alike.
 *
 * IPC: sends `{ type: 'ready', port }`; answers `{ type: 'counts' }` with `{ type: 'counts', counts }`.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startLocalDynamo } from '../src/stores/dynamodb/index.js';

const engine = await startLocalDynamo({ engine: 'dynamodb-local', port: 0, memory: true, maxHeapMb: 1024 });
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
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (message: { type: string }) => {
  if (message.type === 'counts') process.send?.({ type: 'counts', counts: { ...counts } });
});
// The runner going away ends the engine (and its JVM) too.
process.on('disconnect', () => {
  void engine.close().finally(() => process.exit(0));
});

/**
 * The DynamoDB engine of the benchmarks, run as its own process: dynalite (in memory) on
 * loopback, counting every API call by its `X-Amz-Target` before dynalite handles it. Counting at
 * the engine sees exactly what reached the wire, whichever client (SDK v3, SDK v2, aws-lite) sent it.
 *
 * IPC: sends `{ type: 'ready', port }`; answers `{ type: 'counts' }` with `{ type: 'counts', counts }`.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Dynalite = (options: Record<string, unknown>) => Server;

const moduleName = 'dynalite';
const dynalite = ((await import(moduleName)) as { default: Dynalite }).default;
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const counts: Record<string, number> = {};

server.prependListener('request', (req: IncomingMessage) => {
  const target = req.headers['x-amz-target'];
  const op = typeof target === 'string' ? (target.split('.').pop() ?? target) : 'unknown';
  counts[op] = (counts[op] ?? 0) + 1;
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (message: { type: string }) => {
  if (message.type === 'counts') process.send?.({ type: 'counts', counts: { ...counts } });
});
// The runner going away ends the engine too.
process.on('disconnect', () => process.exit(0));

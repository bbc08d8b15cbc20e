/**
 * A round-robin TCP proxy on loopback, in its own process: each new client connection goes to
 * the next app instance in `REL_TARGETS` (comma-separated ports), as an L4 load balancer with
 * keep-alive clients does. Bytes are piped untouched.
 *
 * IPC: `ready` (port) · `counts` (connections sent to each target).
 */
import { connect, createServer, type Socket } from 'node:net';

const targets = (process.env.REL_TARGETS ?? '')
  .split(',')
  .map(Number)
  .filter((p) => p > 0);
if (targets.length === 0) throw new Error('REL_TARGETS must list at least one port');
const counts = targets.map(() => 0);
let next = 0;

const server = createServer((client: Socket) => {
  const index = next++ % targets.length;
  counts[index] = (counts[index] ?? 0) + 1;
  const upstream = connect({ port: targets[index] as number, host: '127.0.0.1' });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end);
  upstream.on('error', end);
  client.on('close', end);
  upstream.on('close', end);
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
});

process.on('message', (m: { type: string }) => {
  if (m.type === 'counts') process.send?.({ type: 'counts', counts: [...counts] });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

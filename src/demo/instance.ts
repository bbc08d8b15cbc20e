/**
 * One demo instance: a child process the demo forks. It waits for its config over IPC, serves the
 * shop on a free port, reports the port, and exits when told to (SIGTERM) or when its parent is
 * gone (the IPC channel closes), so no instance outlives the demo.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { session } from '../adapters/express/index.js';
import type { Store } from '../stores/store.js';
import { createDemoApp } from './app.js';
import { localDynamoClient } from './dynamo-client.js';
import { type InstanceConfig, type InstanceReady, isInstanceConfig } from './messages.js';

async function openStore(config: InstanceConfig): Promise<Store> {
  if (config.store.kind === 'memory') {
    const { MemoryStore } = await import('../stores/memory/index.js');
    return new MemoryStore();
  }
  const { DynamoDBStore } = await import('../stores/dynamodb/index.js');
  const client = await localDynamoClient(config.store.endpoint);
  return new DynamoDBStore({ tableName: config.store.tableName, client });
}

/** Set once the server runs: closes it and the store, then exits. */
let stop: ((code: number) => void) | undefined;

async function start(config: InstanceConfig): Promise<void> {
  const store = await openStore(config);
  const middleware = session({
    store,
    secret: config.secret,
    cookie: { name: config.cookie.name, path: config.cookie.path },
    devices: true,
  });
  const app = createDemoApp(config.name, middleware);
  const server: Server = app.listen(0, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });

  let stopping = false;
  stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    server.close(() => {
      store.close().then(
        () => process.exit(code),
        () => process.exit(code),
      );
    });
    // Never hang on a stuck connection or client.
    setTimeout(() => process.exit(code), 2_000).unref();
  };

  const ready: InstanceReady = { type: 'ready', port: (server.address() as AddressInfo).port };
  process.send?.(ready);
}

if (!process.send) {
  console.error('demo instance: start it through `baton demo`, which forks it with an IPC channel');
  process.exit(2);
}
// Ctrl-C in a terminal reaches the whole process group: the parent stops the instances in order.
process.on('SIGINT', () => {});
// The parent asks us to stop, or it died (the IPC channel closes): go, closing what runs.
const exit = () => (stop ? stop(0) : process.exit(0));
process.on('SIGTERM', exit);
process.on('disconnect', exit);
process.once('message', (message: unknown) => {
  if (!isInstanceConfig(message)) {
    console.error('demo instance: the first message must be its config');
    process.exit(2);
  }
  start(message).catch((err: unknown) => {
    console.error(`[${message.name}] could not start:`, err);
    process.exit(1);
  });
});

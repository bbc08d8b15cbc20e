/**
 * One app process of the backpressure row (bench/lock-load.ts): serves POST /download, a streamed
 * body of BP_MEGABYTES, and answers `{ type: 'peak' }` with its peak RSS. BP_MODE `session` puts
 * the Express session middleware in front and changes the session in the route, over a memory
 * store that takes 50 ms to answer a write (as a store across a network might), so the response
 * is held while the commit is pending; `plain` has no middleware.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express from 'express';
import { session } from '../src/adapters/express/index.js';
import { MemoryStore } from '../src/stores/memory/index.js';
import type { Store } from '../src/stores/store.js';

const mode = process.env.BP_MODE ?? 'plain';
const total = Number(process.env.BP_MEGABYTES ?? 300) * 1024 * 1024;
const CHUNK = 64 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The memory store, with every write answered 50 ms late. */
function slowWrites(store: Store): Store {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop !== 'create' && prop !== 'patch') return value.bind(target);
      return async (...args: unknown[]) => {
        await sleep(50);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const app = express();
if (mode === 'session') {
  app.use(
    session({ store: slowWrites(new MemoryStore()), secret: 'backpressure-bench-secret-long-enough-0123' }),
  );
}
app.post('/download', (req, res) => {
  if (mode === 'session') req.session.downloads = ((req.session.downloads as number | undefined) ?? 0) + 1;
  let sent = 0;
  const source = new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      sent += CHUNK;
      this.push(Buffer.allocUnsafe(CHUNK).fill(120));
    },
  });
  res.setHeader('content-type', 'application/octet-stream');
  pipeline(source, res).catch(() => {});
});

const server = createServer(app);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
process.on('message', (message: { type: string }) => {
  if (message.type === 'peak') process.send?.({ type: 'peak', maxRssKb: process.resourceUsage().maxRSS });
});
process.on('disconnect', () => process.exit(0));

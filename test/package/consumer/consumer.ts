// A TypeScript consumer of the installed package: one import per entry point, each used, so a
// subpath its module resolution cannot find fails the compile (TS2307), and a wrong type fails too.
import { type SessionData, SessionManager, type SessionOptions, type Store } from 'baton-session';
import { DynamoDBStore } from 'baton-session/dynamodb';
import { session } from 'baton-session/express';
import { ExpressSessionStore } from 'baton-session/express-session';
import fastifySession from 'baton-session/fastify';
import { FileStore } from 'baton-session/file';
import { session as honoSession } from 'baton-session/hono';
import { session as koaSession } from 'baton-session/koa';
import { MemcachedStore } from 'baton-session/memcached';
import { MemoryStore } from 'baton-session/memory';
import { MySQLStore } from 'baton-session/mysql';
import { createSessions as nodeHttpSessions } from 'baton-session/node-http';
import { PostgresStore } from 'baton-session/postgres';
import { RedisStore } from 'baton-session/redis';
import { createSessions as webSessions } from 'baton-session/web';

declare module 'baton-session' {
  interface SessionData {
    basket: string[];
  }
}

const store: Store = new MemoryStore();
const options: SessionOptions = { store, secret: 'a-consumer-secret-that-is-long-enough-0123' };
export const manager = new SessionManager(options);
const data: SessionData = { basket: ['rum'] };
// @ts-expect-error: the declared key has a type, so the package's types are in use, not `any`
const wrong: SessionData = { basket: 1 };

export const entryPoints = [
  DynamoDBStore,
  session,
  ExpressSessionStore,
  fastifySession,
  FileStore,
  honoSession,
  koaSession,
  MemcachedStore,
  MySQLStore,
  nodeHttpSessions,
  PostgresStore,
  RedisStore,
  webSessions,
  data,
  wrong,
];
// @ts-expect-error: a store option that does not exist is refused, so the types are the package's, not `any`
new MemoryStore({ noSuchOption: true });

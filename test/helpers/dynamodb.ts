/**
 * DynamoDB test fixtures: the engine the run asked for on a free loopback port, clients of both
 * kinds, and a random table name per store so test files sharing the engine never meet.
 *
 * The engine comes from the environment:
 * - `BATON_DYNAMODB_ENGINE=dynalite` (default): dynalite in this process, a new one per
 *   `startEngine()` call (cheap), stopped by its `close()`.
 * - `BATON_DYNAMODB_ENGINE=dynamodb-local`: Amazon's DynamoDB Local (Java 17+), started once per test
 *   process with a heap cap and shared by every `startEngine()` call of the process (a JVM start
 *   costs seconds); its `close()` is a no-op and the JVM is stopped by pid when the process exits.
 * - `BATON_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT`: an engine someone else runs (to debug against
 *   a long-lived one); set the engine variable too, so titles and engine-specific expectations
 *   follow. A DynamoDB Local shared by many test files starves: its background jobs (index
 *   creation, TTL) run on a pool of 10 threads, and each of the first 7 tables with TTL on keeps
 *   one for good (docs/dynamodb.md, "TTL on DynamoDB Local").
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import awsLite from '@aws-lite/client';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { type LocalDynamo, startLocalDynamo } from '../../src/stores/dynamodb/index.js';
import type { AwsLiteClient } from '../../src/stores/dynamodb/transport.js';

export const REGION = 'us-east-1';
export const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export type EngineKind = 'dynalite' | 'dynamodb-local';

function kind(): EngineKind {
  const value = process.env.BATON_DYNAMODB_ENGINE ?? 'dynalite';
  if (value !== 'dynalite' && value !== 'dynamodb-local') {
    throw new Error(`BATON_DYNAMODB_ENGINE must be dynalite or dynamodb-local, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The engine of this run, for titles and for the few expectations that differ by engine. */
export const ENGINE: { kind: EngineKind; name: string; external: string | undefined } = {
  kind: kind(),
  name: kind() === 'dynalite' ? 'dynalite' : 'DynamoDB Local',
  external: process.env.BATON_DYNAMODB_ENDPOINT || undefined,
};

/** True on engines with a TTL API and deleter (DynamoDB Local, AWS); false on dynalite. */
export const HAS_TTL = ENGINE.kind !== 'dynalite';

/** Heap cap of a DynamoDB Local this process starts (MB). */
const HEAP_MB = 384;

let shared: Promise<LocalDynamo> | undefined;

/**
 * An engine on a free loopback port. On dynalite a fresh one per call; on DynamoDB Local (or an
 * external endpoint) one per process, whose `close()` leaves it running for the other callers.
 */
export function startEngine(): Promise<LocalDynamo> {
  if (ENGINE.external !== undefined) return Promise.resolve(handle(ENGINE.external));
  if (ENGINE.kind === 'dynalite') return startLocalDynamo({ port: 0, memory: true });
  shared ??= startLocalDynamo({ engine: 'dynamodb-local', port: 0, memory: true, maxHeapMb: HEAP_MB }).then(
    (engine) => {
      // Stopped by pid when the process exits; a signal that ends the process stops it first.
      engine.unref();
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => {
          void engine.close().finally(() => process.kill(process.pid, signal));
        });
      }
      return engine;
    },
  );
  return shared.then((engine) => handle(engine.endpoint));
}

function handle(endpoint: string): LocalDynamo {
  return { endpoint, port: Number(new URL(endpoint).port), close: async () => {}, unref: () => {} };
}

/** An endpoint on loopback where nothing listens (for "store unreachable" tests). */
export function closedEndpoint(): Promise<string> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(`http://127.0.0.1:${port}`));
    });
  });
}

export function tableName(prefix = 'baton-test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export function sdkClient(endpoint: string, extra: Partial<DynamoDBClientConfig> = {}): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: REGION, credentials: CREDENTIALS, ...extra });
}

const DYNAMODB_PLUGIN = '@aws-lite/dynamodb';

export async function awsLiteClient(
  endpoint: string,
  extra: { responseContentType?: string } = {},
): Promise<AwsLiteClient> {
  const client = await awsLite({
    endpoint,
    region: REGION,
    ...CREDENTIALS,
    ...extra,
    autoloadPlugins: false,
    plugins: [import(DYNAMODB_PLUGIN)],
  });
  return client;
}

/** Quiet warnings collector for `onWarning`. */
export function warnings(): { list: string[]; onWarning: (message: string) => void } {
  const list: string[] = [];
  return { list, onWarning: (message) => list.push(message) };
}

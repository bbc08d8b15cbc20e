/**
 * The lean transport's signing and credentials, against a signature-checking proxy in front of the
 * engine (the local engines do not check signatures; DynamoDB does, so the proxy does it the same
 * way): the `Authorization` header against `@smithy/signature-v4` for a fixed request and time,
 * and the SDK's default credential chain as production uses it — environment, a shared
 * credentials file, an ECS-style endpoint, an IMDSv2-style endpoint — plus credentials refreshed
 * before expiry under load with no failed request.
 */
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Agent as HttpAgent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it, mock } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStore } from '../../src/stores/dynamodb/index.js';
import type { LocalDynamo } from '../../src/stores/dynamodb/local.js';
import { newKey, record } from '../conformance/suite.js';
import {
  awsLiteClient,
  CREDENTIALS,
  ENGINE,
  REGION,
  sdkClient,
  startEngine,
  tableName,
  warnings,
} from '../helpers/dynamodb.js';
import { expectedAuthorization, SigningProxy } from './dynamodb-transport-proxy.js';

const ENV_KEYS = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
];

describe(`lean DynamoDB transport: signing and credentials on ${ENGINE.name}`, () => {
  let engine: LocalDynamo;
  let proxy: SigningProxy;
  let table: string;
  let dir: string;
  const saved: Record<string, string | undefined> = {};
  const stores: DynamoDBStore[] = [];
  const servers: Server[] = [];

  before(async () => {
    engine = await startEngine();
    proxy = await new SigningProxy(engine.endpoint, REGION).start();
    proxy.keys.set(CREDENTIALS.accessKeyId, { secretAccessKey: CREDENTIALS.secretAccessKey });
    table = tableName();
    // The table is made through the proxy, with fixed keys: the proxy checks every request.
    const setupStore = new DynamoDBStore({
      tableName: table,
      client: sdkClient(proxy.endpoint),
      ...warnings(),
    });
    await setupStore.ensureTable();
    dir = mkdtempSync(join(tmpdir(), 'baton-creds-'));
  });
  after(async () => {
    await proxy?.close();
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    for (const k of ENV_KEYS) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    // No shared files and no instance metadata unless a test sets them up.
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'none-credentials');
    process.env.AWS_CONFIG_FILE = join(dir, 'none-config');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  });
  afterEach(async () => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    for (const s of stores.splice(0)) await s.close();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  /** A store on a client with no credentials given: the SDK's default chain finds them. */
  function chainStore(): { store: DynamoDBStore; client: DynamoDBClient } {
    const client = new DynamoDBClient({ endpoint: proxy.endpoint, region: REGION });
    const store = new DynamoDBStore({ tableName: table, client, ...warnings() });
    stores.push(store);
    return { store, client };
  }

  async function roundTrip(store: DynamoDBStore): Promise<void> {
    const key = newKey();
    await store.create(key, record());
    assert.deepEqual((await store.get(key))?.data, record().data);
  }

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('signs as @smithy/signature-v4 does for the same request, credentials and time', async () => {
    const store = new DynamoDBStore({ tableName: table, client: sdkClient(proxy.endpoint), ...warnings() });
    stores.push(store);
    assert.equal(store.transport, 'lean');
    await store.get(newKey()); // endpoint, signer and agent resolved before the clock is frozen
    const at = new Date('2026-12-06T08:30:15.000Z');
    mock.timers.enable({ apis: ['Date'], now: at });
    const seen = proxy.received.length;
    const key = newKey();
    try {
      await store.get(key);
    } finally {
      mock.timers.reset();
    }
    // (The store clock may read the engine's Date with a DescribeTable meanwhile.)
    const sent = proxy.received
      .slice(seen)
      .find((r) => r.headers['x-amz-target'] === 'DynamoDB_20120810.GetItem');
    assert.ok(sent, 'the proxy saw the request');
    assert.equal(sent.headers['x-amz-date'], '20261206T083015Z');
    assert.equal(sent.headers['x-amz-target'], 'DynamoDB_20120810.GetItem');
    assert.match(
      sent.authorization,
      /^AWS4-HMAC-SHA256 Credential=local\/20261206\/us-east-1\/dynamodb\/aws4_request, /,
    );
    assert.match(
      sent.authorization,
      /, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target, /,
    );
    assert.equal(sent.authorization, await expectedAuthorization(sent, CREDENTIALS, REGION, at));
    assert.deepEqual(JSON.parse(sent.body).Key, { id: { S: key } });
    assert.deepEqual(proxy.refused(), []);
  });

  it("the proxy's check accepts the SDK's own requests and refuses a wrong secret", async () => {
    const sdk = new DynamoDBStore({
      tableName: table,
      client: sdkClient(proxy.endpoint),
      transport: 'sdk',
      ...warnings(),
    });
    stores.push(sdk);
    assert.equal(sdk.transport, 'aws-sdk-v3');
    await roundTrip(sdk);
    assert.deepEqual(proxy.refused(), []);
    const wrong = new DynamoDBStore({
      tableName: table,
      client: sdkClient(proxy.endpoint, {
        credentials: { accessKeyId: 'local', secretAccessKey: 'wrong' },
        maxAttempts: 1,
      }),
      ...warnings(),
    });
    stores.push(wrong);
    await assert.rejects(wrong.get(newKey()), /InvalidSignatureException/);
    assert.equal(proxy.refused().at(-1)?.refused, 'InvalidSignatureException');
    proxy.attempts.splice(0);
  });

  it('environment variables', async () => {
    proxy.keys.set('ENVKEY', { secretAccessKey: 'env-secret', sessionToken: 'env-token' });
    process.env.AWS_ACCESS_KEY_ID = 'ENVKEY';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    process.env.AWS_SESSION_TOKEN = 'env-token';
    await roundTrip(chainStore().store);
    assert.ok(proxy.attempts.some((a) => a.accessKeyId === 'ENVKEY'));
    assert.deepEqual(proxy.refused(), []);
  });

  it('a shared credentials file and AWS_PROFILE', async () => {
    proxy.keys.set('FILEKEY', { secretAccessKey: 'file-secret' });
    const file = join(dir, 'credentials');
    writeFileSync(
      file,
      '[default]\naws_access_key_id = NOTTHIS\naws_secret_access_key = x\n\n[baton-test]\naws_access_key_id = FILEKEY\naws_secret_access_key = file-secret\n',
    );
    process.env.AWS_SHARED_CREDENTIALS_FILE = file;
    process.env.AWS_PROFILE = 'baton-test';
    await roundTrip(chainStore().store);
    assert.ok(proxy.attempts.some((a) => a.accessKeyId === 'FILEKEY'));
    assert.deepEqual(proxy.refused(), []);
  });

  it('an ECS-style container credentials endpoint', async () => {
    proxy.keys.set('ECSKEY', { secretAccessKey: 'ecs-secret', sessionToken: 'ecs-token' });
    let fetches = 0;
    const url = await serve((req, res) => {
      fetches++;
      assert.equal(req.headers.authorization, 'container-token');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          AccessKeyId: 'ECSKEY',
          SecretAccessKey: 'ecs-secret',
          Token: 'ecs-token',
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      );
    });
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${url}/v2/credentials`;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN = 'container-token';
    const { store } = chainStore();
    await roundTrip(store);
    await roundTrip(store);
    assert.equal(fetches, 1, 'fetched once, then served from the SDK cache');
    assert.ok(proxy.attempts.some((a) => a.accessKeyId === 'ECSKEY'));
    assert.deepEqual(proxy.refused(), []);
  });

  it('an IMDSv2-style instance metadata endpoint (token, role, credentials)', async () => {
    proxy.keys.set('IMDSKEY', { secretAccessKey: 'imds-secret', sessionToken: 'imds-token' });
    const seen: string[] = [];
    const url = await serve((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT' && req.url === '/latest/api/token') {
        assert.ok(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
        res.end('imds-session');
        return;
      }
      if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-session') {
        res.writeHead(401);
        res.end();
        return;
      }
      const m = /^\/latest\/meta-data\/iam\/security-credentials(?:-extended)?\/(.*)$/.exec(req.url ?? '');
      if (!m) {
        res.writeHead(404);
        res.end();
        return;
      }
      if (m[1] === '') {
        res.end('baton-role');
        return;
      }
      res.end(
        JSON.stringify({
          Code: 'Success',
          Type: 'AWS-HMAC',
          AccessKeyId: 'IMDSKEY',
          SecretAccessKey: 'imds-secret',
          Token: 'imds-token',
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
          LastUpdated: new Date().toISOString(),
        }),
      );
    });
    delete process.env.AWS_EC2_METADATA_DISABLED;
    process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = url;
    await roundTrip(chainStore().store);
    assert.ok(
      seen.includes('PUT /latest/api/token'),
      `a session token was asked for first: ${seen.join(', ')}`,
    );
    assert.ok(proxy.attempts.some((a) => a.accessKeyId === 'IMDSKEY'));
    assert.deepEqual(proxy.refused(), []);
  });

  it('credentials expiring under load are refreshed before expiry: no request fails', async () => {
    // The SDK refreshes credentials 5 minutes before their `Expiration`. The endpoint hands out
    // keys whose Expiration is 5 min + 1 s away, and the proxy refuses each key from the moment
    // the SDK should have stopped using it (plus 1.5 s for requests in flight on a loaded machine): a request
    // signed with a stale key fails.
    let fetches = 0;
    const url = await serve((_req, res) => {
      fetches++;
      const id = `ROTATING${fetches}`;
      const now = Date.now();
      proxy.keys.set(id, {
        secretAccessKey: `secret-${fetches}`,
        sessionToken: `token-${fetches}`,
        refuseAfter: now + 2_500,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          AccessKeyId: id,
          SecretAccessKey: `secret-${fetches}`,
          Token: `token-${fetches}`,
          Expiration: new Date(now + 300_000 + 1_000).toISOString(),
        }),
      );
    });
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${url}/creds`;
    const { store } = chainStore();
    proxy.attempts.splice(0);
    const keys = Array.from({ length: 4 }, () => newKey());
    for (const key of keys) await store.create(key, record());
    const until = Date.now() + 5_000;
    let calls = 0;
    await Promise.all(
      keys.map(async (key, worker) => {
        for (let i = 0; Date.now() < until; i++) {
          if (i % 3 === 0) {
            const version = (await store.get(key))?.version ?? 0;
            await store.patch(key, {
              set: { w: `${worker}-${i}` },
              unset: [],
              expiresAt: Date.now() + 60_000,
              expectVersion: version,
            });
          } else {
            assert.equal((await store.get(key))?.data.a === undefined, true);
          }
          calls++;
        }
      }),
    );
    assert.ok(calls > 20, `load ran (${calls} calls)`);
    assert.ok(fetches >= 3, `credentials were fetched again as they neared expiry (${fetches} fetches)`);
    assert.ok(
      new Set(proxy.attempts.map((a) => a.accessKeyId)).size >= 3,
      'requests were signed with the new keys',
    );
    assert.deepEqual(proxy.refused(), [], 'no request was signed with an expired key');
  });

  it('the transport option: a wrong value, or sdk with an aws-lite client, is a ConfigError naming it', async () => {
    const lite = await awsLiteClient(proxy.endpoint);
    assert.throws(
      () =>
        new DynamoDBStore({
          tableName: table,
          client: sdkClient(proxy.endpoint),
          transport: 'fast' as 'sdk',
        }),
      { code: 'BATON_CONFIG', message: /transport.*'lean' or 'sdk'/ },
    );
    assert.throws(() => new DynamoDBStore({ tableName: table, client: lite, transport: 'sdk' }), {
      code: 'BATON_CONFIG',
      message: /transport.*aws-lite/,
    });
    const own = new DynamoDBStore({
      tableName: table,
      clientConfig: { endpoint: proxy.endpoint, region: REGION, credentials: CREDENTIALS },
      transport: 'sdk',
      ...warnings(),
    });
    stores.push(own);
    assert.equal(own.transport, 'aws-sdk-v3');
    await roundTrip(own);
  });

  it("goes through undici's pool on a plain agent, and through the client's own agent when it carries more", async () => {
    const pooled: string[] = [];
    const onPool = (message: unknown) => {
      const { origin } = (message as { request: { origin?: unknown } }).request;
      pooled.push(String(origin));
    };
    diagnostics.subscribe('undici:request:create', onPool);
    try {
      // A plain agent (only keep-alive and socket counts): its sockets are never opened.
      const plain = new HttpAgent({ keepAlive: true, maxSockets: 8 });
      const plainSockets = countSockets(plain);
      await roundTrip(agentStore(plain));
      assert.equal(plainSockets(), 0, 'the plain agent opened no socket');
      assert.ok(pooled.length >= 2, `the pool carried the requests (${pooled.length})`);

      // An agent of its own class (a proxy agent, say): every request goes through it.
      class OwnAgent extends HttpAgent {}
      const own = new OwnAgent({ keepAlive: true });
      const ownSockets = countSockets(own);
      pooled.splice(0);
      await roundTrip(agentStore(own));
      assert.ok(ownSockets() >= 1, 'the subclass opened the connection');
      assert.equal(pooled.length, 0, 'nothing went through the pool');

      // A built-in agent with socket or TLS options beyond pooling is kept too.
      const bound = new HttpAgent({ keepAlive: true, localAddress: '127.0.0.1' });
      const boundSockets = countSockets(bound);
      pooled.splice(0);
      await roundTrip(agentStore(bound));
      assert.ok(boundSockets() >= 1, 'the agent opened the connection');
      assert.equal(pooled.length, 0, 'nothing went through the pool');
    } finally {
      diagnostics.unsubscribe('undici:request:create', onPool);
    }
  });

  /**
   * Counts the sockets `agent` opens, by wrapping its own `createConnection` (an own property:
   * the agent's class and options, which decide the exchange, stay as they are).
   */
  function countSockets(agent: HttpAgent): () => number {
    let opened = 0;
    const original = (agent as unknown as { createConnection: (...a: unknown[]) => unknown })
      .createConnection;
    (agent as unknown as { createConnection: (...a: unknown[]) => unknown }).createConnection = function (
      this: HttpAgent,
      ...args: unknown[]
    ) {
      opened++;
      return original.apply(this, args);
    };
    return () => opened;
  }

  /** A store whose client sends to the engine on `agent`. */
  function agentStore(agent: HttpAgent): DynamoDBStore {
    const client = new DynamoDBClient({
      endpoint: engine.endpoint,
      region: REGION,
      credentials: CREDENTIALS,
      requestHandler: { httpAgent: agent },
    });
    const store = new DynamoDBStore({ tableName: table, client, ...warnings() });
    stores.push(store);
    return store;
  }
});

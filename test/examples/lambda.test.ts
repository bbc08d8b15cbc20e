/**
 * examples/lambda/handler.ts invoked as Lambda would, with synthesized payload 2.0 events (function
 * URL / API Gateway HTTP API), against dynalite behind a connection-counting proxy: the session
 * follows its cookie across invocations, and warm invocations reuse one connection to the engine.
 */
import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { HttpEvent, HttpResult } from '../../examples/lambda/handler.js';
import { DynamoDBStore, type LocalDynamo } from '../../src/stores/dynamodb/index.js';
import { CREDENTIALS, REGION, sdkClient, startEngine, tableName } from '../helpers/dynamodb.js';

/** Counts the TCP connections made to the engine. */
async function countingProxy(
  targetPort: number,
): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = netConnect(targetPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as { port: number }).port, connections: () => connections };
}

function event(method: string, path: string, cookies: string[], body?: unknown): HttpEvent {
  return {
    rawPath: path,
    rawQueryString: '',
    headers: { host: 'abc123.lambda-url.us-east-1.on.aws', 'content-type': 'application/json' },
    ...(cookies.length ? { cookies } : {}),
    ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)).toString('base64') }),
    isBase64Encoded: body !== undefined,
    requestContext: { domainName: 'abc123.lambda-url.us-east-1.on.aws', http: { method } },
  };
}

/** What a browser sends back: the name=value part of each Set-Cookie. */
const jar = (result: HttpResult, previous: string[]) =>
  result.cookies.length ? result.cookies.map((c) => c.split(';')[0] as string) : previous;

describe('Lambda example (web adapter, payload 2.0 events)', () => {
  let engine: LocalDynamo;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let handler: (event: HttpEvent) => Promise<HttpResult>;
  const table = tableName('baton-lambda');

  before(async () => {
    engine = await startEngine();
    // onWarning: dynalite has no TTL deleter, which this test does not need to hear about.
    const setup = new DynamoDBStore({
      tableName: table,
      client: sdkClient(engine.endpoint),
      onWarning: () => {},
    });
    await setup.ensureTable(); // the pipeline's job, before the function runs
    await setup.close();
    proxy = await countingProxy(engine.port);
    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${proxy.port}`,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      SESSIONS_TABLE: table,
      SESSION_SECRET: 'lambda-example-secret-long-enough-0123456789',
    });
    ({ handler } = await import('../../examples/lambda/handler.js')); // the cold start
  });
  after(async () => {
    proxy?.server.close();
    await engine?.close();
  });

  it('keeps the basket across invocations through the cookies field, on one engine connection', async () => {
    let cookies: string[] = [];
    const first = await handler(event('POST', '/basket', cookies, { item: 'rum' }));
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.cookies.length, 1, 'the session cookie is in `cookies`, not a header');
    assert.equal(first.headers['set-cookie'], undefined);
    assert.match(first.cookies[0] ?? '', /HttpOnly/i);
    assert.match(first.cookies[0] ?? '', /Secure/i, 'an https URL gets a Secure cookie');
    cookies = jar(first, cookies);
    const second = await handler(event('POST', '/basket', cookies, { item: 'map' }));
    cookies = jar(second, cookies);
    for (let i = 0; i < 3; i++) {
      const read = await handler(event('GET', '/basket', cookies));
      assert.deepEqual(JSON.parse(read.body), { basket: ['rum', 'map'] });
      cookies = jar(read, cookies);
    }
    assert.equal(proxy.connections(), 1, 'warm invocations reuse the first connection');
  });

  it('a request without the cookie gets an empty basket, and a bad body a 400', async () => {
    const fresh = await handler(event('GET', '/basket', []));
    assert.deepEqual(JSON.parse(fresh.body), { basket: [] });
    const bad = await handler({ ...event('POST', '/basket', []), body: 'not json', isBase64Encoded: false });
    assert.equal(bad.statusCode, 400);
  });
});

/**
 * Which exchange the lean DynamoDB transport picks for a client's agent, on the Node that runs the
 * test (Node fills different options into its agents across versions): undici's pool for the
 * SDK's own default agents and for built-in agents set up only for pooling; node:http on the
 * agent for anything that could send differently. Requests on both are tested against the engines
 * in dynamodb-transport.test.ts.
 */
import assert from 'node:assert/strict';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Endpoint, exchangeFor } from '../../src/stores/dynamodb/transport/http.js';

const https: Endpoint = {
  protocol: 'https:',
  hostname: 'dynamodb.eu-west-1.amazonaws.com',
  port: undefined,
  path: '/',
  host: 'dynamodb.eu-west-1.amazonaws.com',
};
const http: Endpoint = {
  protocol: 'http:',
  hostname: '127.0.0.1',
  port: 8000,
  path: '/',
  host: '127.0.0.1:8000',
};

function kind(endpoint: Endpoint, agent: HttpAgent | undefined): string {
  const exchange = exchangeFor(endpoint, agent, 0);
  exchange.close();
  return exchange.kind;
}

describe('lean transport: the exchange for an agent', () => {
  it("the SDK's default agents (http and https) go through the pool", async () => {
    const client = new DynamoDBClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    const handler = client.config.requestHandler as unknown as {
      config?: { httpAgent?: HttpAgent; httpsAgent?: HttpsAgent };
      configProvider?: Promise<{ httpAgent?: HttpAgent; httpsAgent?: HttpsAgent }>;
    };
    const config = handler.config ?? (await handler.configProvider);
    assert.ok(config?.httpsAgent instanceof HttpsAgent, 'the SDK made an https agent');
    assert.equal(kind(https, config.httpsAgent), 'pool');
    assert.equal(kind(http, config?.httpAgent), 'pool');
    client.destroy();
  });

  it('built-in agents with only pooling options, or none at all, go through the pool', () => {
    assert.equal(
      kind(https, new HttpsAgent({ keepAlive: true, maxSockets: 8, keepAliveMsecs: 500 })),
      'pool',
    );
    assert.equal(
      kind(http, new HttpAgent({ keepAlive: true, maxFreeSockets: 4, scheduling: 'fifo' })),
      'pool',
    );
    assert.equal(kind(http, undefined), 'pool');
  });

  it('an agent with TLS or socket options, a subclass, or NODE_USE_ENV_PROXY keeps node:http', () => {
    assert.equal(kind(https, new HttpsAgent({ keepAlive: true, ca: 'a private CA' })), 'agent');
    assert.equal(kind(https, new HttpsAgent({ rejectUnauthorized: false })), 'agent');
    assert.equal(kind(http, new HttpAgent({ localAddress: '127.0.0.1' })), 'agent');
    class ProxyAgent extends HttpsAgent {}
    assert.equal(kind(https, new ProxyAgent({ keepAlive: true })), 'agent');
    process.env.NODE_USE_ENV_PROXY = '1';
    try {
      assert.equal(kind(https, new HttpsAgent({ keepAlive: true })), 'agent');
    } finally {
      delete process.env.NODE_USE_ENV_PROXY;
    }
  });
});

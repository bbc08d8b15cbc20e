/**
 * Store URLs: every documented form parses to the store's options, bad ones fail with a ConfigError
 * that names what is wrong, and `createStore` builds the right store (loading only its module).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStore, missingPackage, parseStoreUrl, redactUrl } from '../../src/stores/url.js';

function configError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: { code?: string; message?: string }) => {
    assert.equal(err.code, 'BATON_CONFIG');
    assert.match(err.message ?? '', message);
    return true;
  });
}

describe('parseStoreUrl', () => {
  it('reads every documented form', () => {
    const dynamo = parseStoreUrl(
      'dynamodb://My-Sessions.v2?region=eu-west-1&endpoint=http://127.0.0.1:8000&consistentRead=false',
    );
    assert.ok(dynamo.kind === 'dynamodb');
    assert.equal(dynamo.tableName, 'My-Sessions.v2');
    assert.equal(dynamo.options.tableName, 'My-Sessions.v2');
    assert.equal(dynamo.options.consistentRead, false);
    assert.equal(dynamo.options.clientConfig?.region, 'eu-west-1');
    assert.equal(dynamo.options.clientConfig?.endpoint, 'http://127.0.0.1:8000');
    const plain = parseStoreUrl('dynamodb://sessions');
    assert.ok(plain.kind === 'dynamodb');
    assert.equal(plain.options.clientConfig?.endpoint, undefined);
    assert.deepEqual(parseStoreUrl('redis://h:6379/0?prefix=sess:'), {
      kind: 'redis',
      url: 'redis://h:6379/0?prefix=sess:',
    });
    assert.deepEqual(parseStoreUrl('rediss://u:p@h:6380'), { kind: 'redis', url: 'rediss://u:p@h:6380' });
    assert.deepEqual(
      parseStoreUrl('postgres://app:pw@db:5432/app?table=web_sessions&schema=auth&sslmode=require'),
      {
        kind: 'postgres',
        connectionString: 'postgres://app:pw@db:5432/app?sslmode=require',
        tableName: 'web_sessions',
        schema: 'auth',
      },
    );
    assert.equal(parseStoreUrl('postgresql://db/app').kind, 'postgres');
    assert.deepEqual(parseStoreUrl('mysql://root@127.0.0.1:3306/test?table=s'), {
      kind: 'mysql',
      uri: 'mysql://root@127.0.0.1:3306/test',
      tableName: 's',
    });
    assert.deepEqual(parseStoreUrl('memcached://a:11211,b?prefix=x:'), {
      kind: 'memcached',
      servers: ['a:11211', 'b:11211'],
      prefix: 'x:',
    });
    assert.deepEqual(parseStoreUrl('file:///var/lib/sessions'), { kind: 'file', dir: '/var/lib/sessions' });
    assert.deepEqual(parseStoreUrl('file:data/sessions'), { kind: 'file', dir: 'data/sessions' });
    assert.deepEqual(parseStoreUrl('memory:'), { kind: 'memory' });
    assert.deepEqual(parseStoreUrl('MEMORY:'), { kind: 'memory' });
  });

  it('refuses bad URLs with a message naming the problem', () => {
    configError(() => parseStoreUrl(''), /no store URL given/);
    configError(() => parseStoreUrl('sessions'), /must start with a scheme \(supported: dynamodb, redis/);
    configError(
      () => parseStoreUrl('localhost:6379'),
      /looks like HOST:PORT: add the scheme, e\.g\. redis:\/\/localhost:6379/,
    );
    configError(
      () => parseStoreUrl('mongodb://h/db'),
      /unsupported store URL scheme `mongodb:`.*supported: dynamodb:, redis:/,
    );
    configError(() => parseStoreUrl('dynamodb://ab'), /not a DynamoDB table name/);
    configError(() => parseStoreUrl('dynamodb://a/b'), /not a DynamoDB table name/);
    configError(
      () => parseStoreUrl('dynamodb://sessions?endpoint=127.0.0.1:8000'),
      /endpoint must be an http/,
    );
    configError(
      () => parseStoreUrl('dynamodb://sessions?table=x'),
      /option `url`: unknown parameter `table` \(known: region, endpoint/,
    );
    configError(() => parseStoreUrl('redis://h?db=1'), /unknown parameter `db` \(accepted here: `prefix`\)/);
    configError(() => parseStoreUrl('memcached://'), /expected memcached:\/\/HOST:PORT/);
    configError(() => parseStoreUrl('memory://x'), /takes no host or path/);
    configError(() => parseStoreUrl('file://host/dir'), /file:\/\/\/absolute\/path/);
  });

  it('hides passwords in messages', () => {
    assert.equal(redactUrl('redis://u:hunter2@h:6379/0'), 'redis://u:***@h:6379/0');
    assert.equal(redactUrl('postgres://app:pw@db/app'), 'postgres://app:***@db/app');
    assert.equal(redactUrl('redis://h:6379/0'), 'redis://h:6379/0');
    configError(() => parseStoreUrl('redis://:hunter2@h?x=1'), /redis:\/\/:\*\*\*@h\?x=1/);
    assert.throws(
      () => parseStoreUrl('redis://:hunter2@h?x=1'),
      (err: Error) => !err.message.includes('hunter2'),
    );
  });
});

describe('createStore', () => {
  it('builds the store the URL names', async () => {
    const memory = await createStore('memory:');
    assert.equal(memory.name, 'memory');
    await memory.close();
    const dynamo = await createStore('dynamodb://sessions?region=eu-west-1', { onWarning: () => {} });
    assert.equal(dynamo.name, 'dynamodb');
    assert.equal((dynamo as unknown as { tableName: string }).tableName, 'sessions');
    await dynamo.close();
    // Constructors connect lazily: no engine is needed to build these.
    for (const [url, name] of [
      ['redis://127.0.0.1:1/0', 'redis'],
      ['postgres://nobody@127.0.0.1:1/none?table=t', 'postgres'],
      ['mysql://nobody@127.0.0.1:1/none?table=t', 'mysql'],
    ] as const) {
      const store = await createStore(url);
      assert.equal(store.name, name);
      await store.close();
    }
  });

  it('passes store options through and lets the store validate them', async () => {
    const small = await createStore('memory:', { storeOptions: { maxSize: 10 } });
    assert.equal(small.limits.maxSessionBytes, 10);
    await small.close();
    await assert.rejects(
      createStore('redis://127.0.0.1:1/0?prefix={x}'),
      (err: { code?: string; message?: string }) => {
        assert.equal(err.code, 'BATON_CONFIG');
        assert.match(err.message ?? '', /prefix/);
        return true;
      },
    );
  });

  it('a missing client package becomes "install X: npm install X"', () => {
    const err = Object.assign(
      new Error(
        "Cannot find package 'pg' imported from /app/node_modules/baton-session/dist/stores/postgres/postgres-store.js",
      ),
      {
        code: 'ERR_MODULE_NOT_FOUND',
      },
    );
    const mapped = missingPackage('postgres', err);
    assert.equal(mapped?.code, 'BATON_CONFIG');
    assert.match(
      mapped?.message ?? '',
      /the postgres store needs the `pg` package: install pg: npm install pg/,
    );
    assert.equal(mapped?.cause, err);
    const missingModule = Object.assign(new Error("Cannot find module '/app/dist/stores/file/index.js'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    assert.match(missingPackage('file', missingModule)?.message ?? '', /has no file store/);
    assert.equal(missingPackage('postgres', new Error('boom')), undefined);
  });
});

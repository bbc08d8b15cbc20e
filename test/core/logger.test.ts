import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SessionManager } from '../../src/core/manager.js';
import { DynamoDBStore, type LocalDynamo, startLocalDynamo } from '../../src/stores/dynamodb/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import { sdkClient, tableName } from '../helpers/dynamodb.js';

const SECRET = 'logger-secret-logger-secret-logger-secret';

function recordingLogger() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields: fields as Record<string, unknown>, message });
    };
  return { lines, logger: { warn: at('warn'), error: at('error'), debug: at('debug') } };
}

describe('logger option', () => {
  let engine: LocalDynamo;
  before(async () => {
    // dynalite whatever engine the run chose: the warning routed here is the one an engine without
    // a TTL API gives (DynamoDB Local has the API, so it has nothing to warn about).
    engine = await startLocalDynamo({ port: 0, memory: true });
  });
  after(() => engine.close());

  it("the store's warnings go to logger.warn instead of process.emitWarning", async () => {
    const emitted: string[] = [];
    const onWarning = (w: Error) => emitted.push(w.message);
    process.on('warning', onWarning);
    try {
      const { lines, logger } = recordingLogger();
      const store = new DynamoDBStore({ tableName: tableName(), client: sdkClient(engine.endpoint) });
      new SessionManager({ store, secret: SECRET, logger });
      await store.ensureTable(); // dynalite has no TTL API: the store warns once
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(
        lines.some((l) => l.level === 'warn' && l.fields.code === 'BATON_DYNAMODB' && /TTL/.test(l.message)),
        JSON.stringify(lines),
      );
      assert.deepEqual(
        emitted.filter((m) => m.includes('baton-session')),
        [],
      );
      await store.close();
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('without a logger the warning is a process warning, as before', async () => {
    const emitted: string[] = [];
    const onWarning = (w: Error) => emitted.push(w.message);
    process.on('warning', onWarning);
    try {
      const store = new DynamoDBStore({ tableName: tableName(), client: sdkClient(engine.endpoint) });
      new SessionManager({ store, secret: SECRET });
      await store.ensureTable();
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(
        emitted.some((m) => m.includes('[dynamodb]') && /TTL/.test(m)),
        JSON.stringify(emitted),
      );
      await store.close();
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a store failure is logged at error level with its code and store, and no key', async () => {
    const { lines, logger } = recordingLogger();
    // A table that does not exist: the engine answers ResourceNotFoundException.
    const store = new DynamoDBStore({
      tableName: tableName('missing'),
      client: sdkClient(engine.endpoint),
      onWarning: () => {},
    });
    const manager = new SessionManager({ store, secret: SECRET, logger });
    const session = await manager.load();
    session.n = 1;
    await assert.rejects(manager.commit(session), { code: 'BATON_STORE_UNAVAILABLE' });
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.deepEqual(errors[0]?.fields.code, 'BATON_STORE_UNAVAILABLE');
    assert.deepEqual(errors[0]?.fields.scope, 'dynamodb');
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(manager.keyFor(session.id)) && !text.includes(session.id));
    await store.close();
  });

  it('refuses an object that is not a logger, naming the option', () => {
    assert.throws(
      () => new SessionManager({ store: new MemoryStore(), secret: SECRET, logger: { warn() {} } as never }),
      { code: 'BATON_CONFIG', message: /logger/ },
    );
  });
});

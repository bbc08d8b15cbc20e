import assert from 'node:assert/strict';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { SessionManager } from '../../src/core/manager.js';
import { type BatonInstrumentation, instrumentBaton } from '../../src/otel/index.js';
import { DynamoDBStore, type LocalDynamo } from '../../src/stores/dynamodb/index.js';
import { MemoryStore } from '../../src/stores/memory/index.js';
import type { Store } from '../../src/stores/store.js';
import { sdkClient, startEngine, tableName, warnings } from '../helpers/dynamodb.js';

const SECRET = 'otel-secret-otel-secret-otel-secret-otel';

function cookieOf(setCookie: string[]): string {
  return setCookie[0]?.split(';')[0] ?? '';
}

describe('instrumentBaton', () => {
  let spans: InMemorySpanExporter;
  let metricExporter: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  let meterProvider: MeterProvider;
  let instrumentation: BatonInstrumentation;

  beforeEach(() => {
    spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
    meterProvider = new MeterProvider({ readers: [reader] });
    instrumentation = instrumentBaton({ tracerProvider, meterProvider });
  });
  afterEach(async () => {
    instrumentation.disable();
    await meterProvider.shutdown();
  });

  /** Metric name → summed data points (counters: value; histograms: count). */
  async function collected(): Promise<
    Map<string, Array<{ attributes: Record<string, unknown>; value: number }>>
  > {
    await reader.forceFlush();
    const out = new Map<string, Array<{ attributes: Record<string, unknown>; value: number }>>();
    for (const rm of metricExporter.getMetrics()) {
      for (const sm of rm.scopeMetrics) {
        for (const m of sm.metrics) {
          const points = m.dataPoints.map((p) => ({
            attributes: p.attributes as Record<string, unknown>,
            value: typeof p.value === 'number' ? p.value : (p.value as { count: number }).count,
          }));
          out.set(m.descriptor.name, points);
        }
      }
    }
    return out;
  }

  const childrenOf = (parent: ReadableSpan, all: ReadableSpan[]) =>
    all.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

  async function visit(
    manager: SessionManager,
    cookie: string | undefined,
    change?: (s: Record<string, unknown>) => void,
  ) {
    const session = await manager.load({ cookie, adapter: 'express' });
    change?.(session);
    const result = await manager.commit(session);
    return result.setCookie.length ? cookieOf(result.setCookie) : cookie;
  }

  it('a write and a read: one load and one commit span each, store calls as their children', async () => {
    const manager = new SessionManager({ store: new MemoryStore(), secret: SECRET });
    const cookie = await visit(manager, undefined, (s) => {
      s.basket = ['apple'];
    });
    spans.reset();
    await visit(manager, cookie);
    const read = spans.getFinishedSpans();
    const load = read.find((s) => s.name === 'baton-session load');
    const commit = read.find((s) => s.name === 'baton-session commit');
    assert.ok(load && commit);
    assert.equal(load.attributes['baton.outcome'], 'loaded');
    assert.equal(load.attributes['baton.adapter'], 'express');
    assert.equal(commit.attributes['baton.written'], false);
    const gets = childrenOf(load, read);
    assert.deepEqual(
      gets.map((s) => [s.name, s.attributes['db.operation.name']]),
      [['get memory', 'get']],
    );
    assert.equal(childrenOf(commit, read).length, 0, 'an unchanged read writes nothing');

    spans.reset();
    await visit(manager, cookie, (s) => {
      (s.basket as string[]).push('pear');
    });
    const write = spans.getFinishedSpans();
    const writeCommit = write.find((s) => s.name === 'baton-session commit');
    assert.ok(writeCommit);
    assert.equal(writeCommit.attributes['baton.write'], 'patch');
    assert.equal(writeCommit.attributes['baton.patch.keys'], 1);
    assert.deepEqual(
      childrenOf(writeCommit, write).map((s) => s.name),
      ['patch memory'],
    );

    const m = await collected();
    const storeOps = m.get('db.client.operation.duration') ?? [];
    assert.ok(storeOps.some((p) => p.attributes['db.operation.name'] === 'patch' && p.value >= 1));
    const requests = m.get('baton.session.duration') ?? [];
    assert.ok(requests.some((p) => p.attributes['baton.operation'] === 'load' && p.value >= 2));
  });

  it('a conflict: the commit span is an error with BATON_CONFLICT and the conflicts counter moves', async () => {
    const manager = new SessionManager({ store: new MemoryStore(), secret: SECRET, concurrency: 'strict' });
    const cookie = await visit(manager, undefined, (s) => {
      s.n = 0;
    });
    const a = await manager.load({ cookie });
    const b = await manager.load({ cookie });
    a.n = 1;
    b.n = 2;
    await manager.commit(a);
    await assert.rejects(manager.commit(b), { code: 'BATON_CONFLICT' });
    const commits = spans.getFinishedSpans().filter((s) => s.name === 'baton-session commit');
    const failed = commits.at(-1);
    assert.ok(failed);
    assert.equal(failed.status.code, 2 /* ERROR */);
    assert.equal(failed.attributes['error.type'], 'BATON_CONFLICT');
    assert.equal(failed.attributes['baton.conflicts'], 1);
    const patch = childrenOf(failed, spans.getFinishedSpans());
    assert.equal(patch[0]?.attributes['error.type'], 'BATON_CONFLICT');
    const m = await collected();
    assert.deepEqual(
      (m.get('baton.session.conflicts') ?? []).map((p) => p.value),
      [1],
    );
  });

  it('disable() stops spans', async () => {
    const manager = new SessionManager({ store: new MemoryStore(), secret: SECRET });
    instrumentation.disable();
    await visit(manager, undefined, (s) => {
      s.n = 1;
    });
    assert.equal(spans.getFinishedSpans().length, 0);
  });

  describe('on DynamoDB', () => {
    let engine: LocalDynamo | undefined;
    let store: Store | undefined;
    after(async () => {
      await store?.close();
      await engine?.close();
    });

    it('store spans follow the database conventions, with consumed capacity', async () => {
      engine = await startEngine();
      const ddb = new DynamoDBStore({
        tableName: tableName(),
        client: sdkClient(engine.endpoint),
        ...warnings(),
      });
      store = ddb;
      await ddb.ensureTable();
      spans.reset();
      const manager = new SessionManager({ store: ddb, secret: SECRET });
      const cookie = await visit(manager, undefined, (s) => {
        s.n = 1;
      });
      await visit(manager, cookie);
      const get = spans.getFinishedSpans().find((s) => s.name === 'get dynamodb');
      assert.ok(get);
      assert.equal(get.attributes['db.system.name'], 'aws.dynamodb');
      assert.equal(get.attributes['db.operation.name'], 'get');
      const consumed = get.attributes['aws.dynamodb.consumed_capacity'] as string[];
      assert.ok((JSON.parse(consumed[0] as string) as { CapacityUnits: number }).CapacityUnits > 0);
      const m = await collected();
      assert.ok((m.get('baton.session.capacity_units') ?? []).some((p) => p.value > 0));
    });
  });
});

/**
 * OpenTelemetry for baton-session: `instrumentBaton({ tracerProvider?, meterProvider? })` subscribes
 * to the `baton-session:*` tracing channels and turns them into spans and metrics.
 *
 * Spans: `baton-session load` and `baton-session commit` (one each per request, children of the
 * span active when the request called them, such as the HTTP server span), and one client span per
 * store call beneath them, named `<operation> <store>` with the database semantic conventions
 * (`db.system.name`, `db.operation.name`, `aws.dynamodb.consumed_capacity`).
 *
 * Metrics: `db.client.operation.duration` (store calls, seconds), `baton.session.duration` (load and
 * commit, seconds), `baton.session.conflicts`, `baton.session.lock.wait` (seconds),
 * `baton.session.capacity_units`, `baton.session.adoptions`, `baton.session.renewals`.
 *
 * `@opentelemetry/api` is an optional peer dependency: install it (an SDK brings it) to use this.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import {
  type Attributes,
  context,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { CommitContext, LoadContext, StoreContext } from '../core/tracing.js';

export interface InstrumentBatonOptions {
  /** @default the global tracer provider (`trace.getTracerProvider()`) */
  tracerProvider?: TracerProvider;
  /** @default the global meter provider (`metrics.getMeterProvider()`) */
  meterProvider?: MeterProvider;
}

export interface BatonInstrumentation {
  /** Unsubscribes from the channels; spans already started still end. Idempotent. */
  disable(): void;
}

/** Store names as the OpenTelemetry database conventions spell the systems. */
const DB_SYSTEM: Record<string, string> = {
  dynamodb: 'aws.dynamodb',
  redis: 'redis',
  postgres: 'postgresql',
  mysql: 'mysql',
  memcached: 'memcached',
};

const SCOPE = 'baton-session';

type Handlers = Parameters<ReturnType<typeof diagnostics.tracingChannel>['subscribe']>[0];

export function instrumentBaton(options: InstrumentBatonOptions = {}): BatonInstrumentation {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
  const storeDuration = meter.createHistogram('db.client.operation.duration', {
    unit: 's',
    description: 'Duration of baton-session store calls',
  });
  const duration = meter.createHistogram('baton.session.duration', {
    unit: 's',
    description: 'Duration of session loads and commits, store calls included',
  });
  const conflicts = meter.createCounter('baton.session.conflicts', {
    description: 'Writes that lost against another writer',
  });
  const lockWait = meter.createHistogram('baton.session.lock.wait', {
    unit: 's',
    description: "Time a load waited for the session's lock",
  });
  const capacity = meter.createCounter('baton.session.capacity_units', {
    description: 'Capacity units the store reported (DynamoDB)',
  });
  const adoptions = meter.createCounter('baton.session.adoptions', {
    description: 'Sessions taken over from a legacy cookie',
  });
  const renewals = meter.createCounter('baton.session.renewals', {
    description: 'Sessions moved to a new id (renewal)',
  });

  /** The load or commit span a store call runs under. */
  const current = new AsyncLocalStorage<Span>();
  const started = new WeakMap<object, { span: Span; at: number }>();

  const open = (ctx: object, name: string, kind: SpanKind, attributes: Attributes, parent?: Span) => {
    const parentContext = parent ? trace.setSpan(context.active(), parent) : context.active();
    const span = tracer.startSpan(name, { kind, attributes }, parentContext);
    started.set(ctx, { span, at: performance.now() });
    return span;
  };

  const close = (ctx: { error?: unknown }, attributes: Attributes) => {
    const entry = started.get(ctx);
    if (!entry) return undefined;
    started.delete(ctx);
    const { span, at } = entry;
    span.setAttributes(attributes);
    const code = (ctx.error as { code?: unknown } | undefined)?.code;
    if (ctx.error !== undefined) {
      span.setAttribute('error.type', typeof code === 'string' ? code : 'Error');
      span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : undefined });
    }
    span.end();
    return (performance.now() - at) / 1000;
  };

  const requestAttributes = (ctx: LoadContext | CommitContext): Attributes => {
    const out: Attributes = { 'baton.store': ctx.store, 'baton.concurrency': ctx.concurrency };
    if (ctx.adapter !== undefined) out['baton.adapter'] = ctx.adapter;
    return out;
  };

  const load = diagnostics.tracingChannel<Span, LoadContext>('baton-session:load');
  const commit = diagnostics.tracingChannel<Span, CommitContext>('baton-session:commit');
  const store = diagnostics.tracingChannel<Span, StoreContext>('baton-session:store');

  const startLoad = (ctx: LoadContext) =>
    open(ctx, 'baton-session load', SpanKind.INTERNAL, requestAttributes(ctx));
  const startCommit = (ctx: CommitContext) =>
    open(ctx, 'baton-session commit', SpanKind.INTERNAL, requestAttributes(ctx));

  const loadHandlers: Handlers = {
    start() {},
    end() {},
    asyncStart() {},
    error() {},
    asyncEnd(message) {
      const ctx = message as LoadContext;
      const attributes: Attributes = { 'baton.outcome': ctx.outcome, 'baton.lock.wait_ms': ctx.lockWaitMs };
      if (ctx.fingerprint !== undefined) attributes['baton.session.fingerprint'] = ctx.fingerprint;
      if (ctx.forwarded) attributes['baton.forwarded'] = true;
      const seconds = close(ctx, attributes);
      const base = { ...requestAttributes(ctx), 'baton.operation': 'load', 'baton.outcome': ctx.outcome };
      if (seconds !== undefined) duration.record(seconds, base);
      if (ctx.lockWaitMs > 0 || ctx.concurrency === 'lock')
        lockWait.record(ctx.lockWaitMs / 1000, requestAttributes(ctx));
      if (ctx.outcome === 'adopted') adoptions.add(1, requestAttributes(ctx));
    },
  };
  const commitHandlers: Handlers = {
    start() {},
    end() {},
    asyncStart() {},
    error() {},
    asyncEnd(message) {
      const ctx = message as CommitContext;
      const attributes: Attributes = {
        'baton.write': ctx.write,
        'baton.written': ctx.written,
        'baton.patch.keys': ctx.keys,
        'baton.patch.bytes': ctx.bytes,
        'baton.conflicts': ctx.conflicts,
        'baton.retries': ctx.retries,
      };
      if (ctx.fingerprint !== undefined) attributes['baton.session.fingerprint'] = ctx.fingerprint;
      const seconds = close(ctx, attributes);
      const base = { ...requestAttributes(ctx), 'baton.operation': 'commit', 'baton.write': ctx.write };
      if (seconds !== undefined) duration.record(seconds, base);
      if (ctx.conflicts > 0) conflicts.add(ctx.conflicts, requestAttributes(ctx));
      if (ctx.write === 'renew') renewals.add(1, requestAttributes(ctx));
    },
  };
  const storeHandlers: Handlers = {
    start(message) {
      const ctx = message as StoreContext;
      const attributes: Attributes = { 'db.operation.name': ctx.operation, 'baton.store': ctx.store };
      const system = DB_SYSTEM[ctx.store];
      if (system !== undefined) attributes['db.system.name'] = system;
      open(ctx, `${ctx.operation} ${ctx.store}`, SpanKind.CLIENT, attributes, current.getStore());
    },
    end() {},
    asyncStart() {},
    error() {},
    asyncEnd(message) {
      const ctx = message as StoreContext;
      const attributes: Attributes = { 'baton.attempts': ctx.attempts };
      if (ctx.capacityUnits !== undefined) {
        attributes['aws.dynamodb.consumed_capacity'] = [JSON.stringify({ CapacityUnits: ctx.capacityUnits })];
        attributes['baton.capacity_units'] = ctx.capacityUnits;
      }
      const seconds = close(ctx, attributes);
      const base: Attributes = { 'db.operation.name': ctx.operation, 'baton.store': ctx.store };
      const system = DB_SYSTEM[ctx.store];
      if (system !== undefined) base['db.system.name'] = system;
      if (ctx.errorCode !== undefined) base['error.type'] = ctx.errorCode;
      if (seconds !== undefined) storeDuration.record(seconds, base);
      if (ctx.capacityUnits !== undefined) capacity.add(ctx.capacityUnits, base);
    },
  };

  // The load and commit spans are made when their channel starts, and held in `current` for the
  // store calls made inside them (bindStore runs before the start subscribers).
  load.start.bindStore(current, (ctx) => startLoad(ctx as LoadContext));
  commit.start.bindStore(current, (ctx) => startCommit(ctx as CommitContext));
  load.subscribe(loadHandlers);
  commit.subscribe(commitHandlers);
  store.subscribe(storeHandlers);

  let enabled = true;
  return {
    disable() {
      if (!enabled) return;
      enabled = false;
      load.start.unbindStore(current);
      commit.start.unbindStore(current);
      load.unsubscribe(loadHandlers);
      commit.unsubscribe(commitHandlers);
      store.unsubscribe(storeHandlers);
    },
  };
}

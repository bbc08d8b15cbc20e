/**
 * The demo's "your devices" panel and request trace: `GET /api/devices` lists the logged-in user's
 * sessions with their devices, `POST /api/devices/sign-out-others` signs out every other one, and
 * `GET /api/trace` shows what baton did for this instance's previous request (load, commit and
 * each store call, with durations), recorded from the baton-session tracing channels the way an
 * in-memory exporter would.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import type express from 'express';
import type { Request } from 'express';
import type { SessionManager } from '../core/manager.js';
import type { CommitContext, LoadContext, StoreContext } from '../core/tracing.js';

/** One step of a request's trace. */
export interface TraceStep {
  name: string;
  /** Milliseconds from the start of the request's session work. */
  startMs: number;
  durationMs: number;
  detail: Record<string, string | number | boolean>;
}

export interface RequestTrace {
  method: string;
  path: string;
  steps: TraceStep[];
}

const current = new AsyncLocalStorage<{
  trace: RequestTrace;
  origin: number;
  open: Map<object, TraceStep>;
}>();

/** Subscribes to the three channels once per process; steps land in the request being served. */
function subscribe(): void {
  const noop = () => {};
  const begin = (name: string) => (ctx: unknown) => {
    const run = current.getStore();
    if (!run) return;
    const step: TraceStep = { name, startMs: performance.now() - run.origin, durationMs: 0, detail: {} };
    run.open.set(ctx as object, step);
    run.trace.steps.push(step);
  };
  const finish = (describe: (ctx: never) => Record<string, string | number | boolean>) => (ctx: unknown) => {
    const run = current.getStore();
    const step = run?.open.get(ctx as object);
    if (!run || !step) return;
    run.open.delete(ctx as object);
    step.durationMs = performance.now() - run.origin - step.startMs;
    step.detail = describe(ctx as never);
    const code = (ctx as { error?: { code?: string } }).error?.code;
    if (code) step.detail.error = code;
  };
  diagnostics.tracingChannel('baton-session:load').subscribe({
    start: begin('load'),
    end: noop,
    asyncStart: noop,
    error: noop,
    asyncEnd: finish((c: LoadContext) => ({ outcome: c.outcome, lockWaitMs: Math.round(c.lockWaitMs) })),
  });
  diagnostics.tracingChannel('baton-session:commit').subscribe({
    start: begin('commit'),
    end: noop,
    asyncStart: noop,
    error: noop,
    asyncEnd: finish((c: CommitContext) => ({
      write: c.write,
      keys: c.keys,
      bytes: c.bytes,
      conflicts: c.conflicts,
    })),
  });
  diagnostics.tracingChannel('baton-session:store').subscribe({
    start: (ctx: unknown) => begin(`store ${(ctx as StoreContext).operation}`)(ctx),
    end: noop,
    asyncStart: noop,
    error: noop,
    asyncEnd: finish((c: StoreContext) => {
      const d: Record<string, string | number | boolean> = { store: c.store, attempts: c.attempts };
      if (c.capacityUnits !== undefined) d.capacityUnits = c.capacityUnits;
      return d;
    }),
  });
}

let subscribed = false;
/** The panel's own polling is not what it shows. */
const UNTRACED = new Set(['/api/trace', '/api/devices', '/healthz']);

/** Runs every request inside a trace; keeps the last finished one that was not a trace request itself. */
export function traceRequests(app: express.Express): () => RequestTrace | null {
  if (!subscribed) {
    subscribed = true;
    subscribe();
  }
  let last: RequestTrace | null = null;
  app.use((req, res, next) => {
    const trace: RequestTrace = { method: req.method, path: req.path, steps: [] };
    if (!UNTRACED.has(req.path)) {
      res.once('finish', () => {
        last = trace;
      });
    }
    current.run({ trace, origin: performance.now(), open: new Map() }, next);
  });
  return () => last;
}

/** The devices routes, for a manager made with `devices: true`. */
export function deviceRoutes(
  app: express.Express,
  manager: SessionManager,
  userOf: (req: Request) => string | null,
  lastTrace: () => RequestTrace | null,
  instance: string,
): void {
  app.get('/api/devices', async (req, res) => {
    const user = userOf(req);
    const list = user === null ? [] : await manager.listByUser(user, { current: req.session });
    res.json({
      instance,
      user,
      devices: list
        .sort((a, b) => (b.device?.lastSeenAt ?? 0) - (a.device?.lastSeenAt ?? 0))
        .map((s) => ({
          description: s.device?.description ?? 'Unknown device',
          createdAt: s.device?.createdAt ?? s.createdAt,
          lastSeenAt: s.device?.lastSeenAt ?? null,
          current: s.current === true,
        })),
    });
  });

  app.post('/api/devices/sign-out-others', async (req, res) => {
    const user = userOf(req);
    if (user === null) {
      res.status(400).json({ instance, error: 'log in first: there are no devices to sign out' });
      return;
    }
    const signedOut = await manager.destroyUser(user, { except: req.session });
    res.json({ instance, signedOut });
  });

  app.get('/api/trace', (_req, res) => {
    res.json({ instance, trace: lastTrace() });
  });
}

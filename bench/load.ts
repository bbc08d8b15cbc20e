/** Load from autocannon (in the runner's process), bounded by time and by count, loopback only. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<AutocannonResult>;

interface AutocannonResult {
  duration: number;
  requests: { total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

export interface LoadOptions {
  /** `http://127.0.0.1:PORT` */
  base: string;
  method: 'GET' | 'POST';
  path: string;
  /**
   * Cookie headers to rotate through, one per request, never one with a request in flight (while
   * there are more cookies than connections); none for the `new` route.
   */
  cookies: string[];
  durationS: number;
  connections: number;
  /** Hard cap on requests, whatever the duration. */
  maxRequests: number;
  /**
   * Send exactly this many requests and wait for every answer (so counts at the app and the
   * engine cover whole requests); `durationS` then only bounds the time.
   */
  amount?: number;
}

export interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Errors, timeouts and non-2xx answers: a run with any is reported as failed. */
  failures: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(options.base)) throw new Error('load targets loopback only');
  const { cookies } = options;
  // Sessions are taken in turn, skipping any with a request still in flight: two requests on one
  // session at once would make a writing store re-read and retry (a real conflict, but then the
  // calls per request would measure the load's timing rather than the store).
  let next = 0;
  const busy = new Set<string>();
  const nextIdle = (): string => {
    for (let tried = 0; tried < cookies.length; tried++) {
      const cookie = cookies[next++ % cookies.length] as string;
      if (!busy.has(cookie)) return cookie;
    }
    return cookies[next++ % cookies.length] as string;
  };
  const bounds =
    options.amount === undefined
      ? { duration: options.durationS, maxOverallRequests: options.maxRequests }
      : { amount: Math.max(options.connections, Math.min(options.amount, options.maxRequests)) };
  const started = Date.now();
  const run = autocannon({
    url: options.base,
    connections: options.connections,
    pipelining: 1,
    ...bounds,
    timeout: 10,
    requests: [
      cookies.length === 0
        ? { method: options.method, path: options.path }
        : {
            method: options.method,
            path: options.path,
            setupRequest: (req: { headers?: Record<string, string> }, context: { cookie?: string }) => {
              const cookie = nextIdle();
              busy.add(cookie);
              context.cookie = cookie;
              return { ...req, headers: { ...req.headers, cookie } };
            },
            onResponse: (_status: number, _body: unknown, context: { cookie?: string }) => {
              if (context.cookie !== undefined) busy.delete(context.cookie);
            },
          },
    ],
  });
  // A count-bounded run still stops at 3× its planned duration.
  const guard = setTimeout(
    () => (run as unknown as { stop?: () => void }).stop?.(),
    options.durationS * 3_000,
  );
  const result = await run;
  clearTimeout(guard);
  const seconds = options.amount === undefined ? result.duration : (Date.now() - started) / 1000;
  return {
    reqPerSec: result.requests.total / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    failures: result.errors + result.timeouts + result.non2xx,
  };
}

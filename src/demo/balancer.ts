/**
 * The demo's load balancer, in front of both clusters on one port:
 *
 * - `/api/...` goes round-robin to the live instances of the shared cluster. Like a real balancer
 *   whose health check has not caught up yet, a request whose instance refuses the connection is
 *   sent to the next one.
 * - `/sticky/api/...` goes to the sticky cluster, pinned to one instance by a cookie naming it (the
 *   setup the classic guides warn about): when that instance dies the request moves to another one,
 *   which has never seen the session.
 * - `/api/instances` (and `/sticky/api/instances`) lists the instances; `POST .../:name/kill` kills one.
 * - Anything else is the page, from `publicDir`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import { createProxyServer } from 'httpxy';
import type { ClusterKind } from './messages.js';

/** The cookie naming a client's sticky instance. */
export const STICKY_COOKIE = 'baton_demo_sticky';
/** Response header listing the instances tried before the one that answered. */
export const SKIPPED_HEADER = 'x-balancer-skipped';
/** Largest request body the balancer buffers (the shop's bodies are tiny JSON). */
const MAX_BODY_BYTES = 16 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** What the balancer needs of an instance (`DemoInstance` in the demo). */
export interface Backend {
  readonly name: string;
  readonly alive: boolean;
  /** Its port on 127.0.0.1, while alive. */
  readonly port: number | undefined;
  /** Kills it as a crash would; false when it is not running. */
  kill(): boolean;
}

/** What the balancer needs of a cluster (`Cluster` in the demo). */
export interface BackendPool {
  readonly kind: ClusterKind;
  get(name: string | undefined): Backend | undefined;
  /** The next live backend in turn, skipping `exclude`. */
  pick(exclude: ReadonlySet<string>): Backend | undefined;
  /** What `GET .../api/instances` answers. */
  status(): unknown[];
}

export interface BalancerOptions {
  shared: BackendPool;
  sticky: BackendPool;
  /** Directory of the page's files (index.html, app.js, style.css). */
  publicDir: string;
  /** Pause before a killed instance comes back (reported by the kill endpoint). */
  restartDelayMs: number;
  log: (line: string) => void;
}

interface Asset {
  type: string;
  body: Buffer;
}

/** Per-request notes for the proxied response. */
interface Note {
  skipped: string[];
  setCookie?: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(`/${name}`, { type, body: readFileSync(join(dir, name)) });
  }
  const index = assets.get('/index.html');
  if (index) assets.set('/', index);
  return assets;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped, so that the client gets the 413.
      if (size > MAX_BODY_BYTES) resolve(null);
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Connection failures that mean "this instance is down": safe to send the request elsewhere. */
function isDown(err: NodeJS.ErrnoException, method: string | undefined): boolean {
  if (err.code === 'ECONNREFUSED') return true;
  // A reset may come after the instance acted on the request: only repeat requests that change nothing.
  return (
    (method === 'GET' || method === 'HEAD') && (err.code === 'ECONNRESET' || err.message === 'socket hang up')
  );
}

export function createBalancer(options: BalancerOptions): Server {
  const { shared, sticky, log } = options;
  const assets = loadAssets(options.publicDir);
  // Options given here win over those given per request: the target is given per request.
  const proxy = createProxyServer({ xfwd: true, proxyTimeout: 15_000 });
  const notes = new WeakMap<IncomingMessage, Note>();

  proxy.on('proxyRes', (proxyRes, req) => {
    const note = notes.get(req);
    if (!note) return;
    if (note.skipped.length > 0) proxyRes.headers[SKIPPED_HEADER] = note.skipped.join(', ');
    if (note.setCookie) {
      const existing = proxyRes.headers['set-cookie'] ?? [];
      proxyRes.headers['set-cookie'] = [...existing, note.setCookie];
    }
  });

  /** Sends the request to `first` (or the cluster's next live instance), moving on while they are down. */
  function forward(
    cluster: BackendPool,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    first?: Backend,
  ) {
    const tried = new Set<string>();
    const skipped: string[] = [];
    const attempt = (preferred?: Backend) => {
      const target = preferred?.alive && !tried.has(preferred.name) ? preferred : cluster.pick(tried);
      if (!target || target.port === undefined) {
        sendJson(res, 503, {
          error: `no ${cluster.kind} instance is up; killed instances come back in a few seconds`,
          skipped,
        });
        return;
      }
      tried.add(target.name);
      const note: Note = { skipped: [...skipped] };
      if (cluster.kind === 'sticky' && target !== first) {
        note.setCookie = serializeCookie(STICKY_COOKIE, target.name, {
          path: '/sticky',
          httpOnly: true,
          sameSite: 'lax',
        });
      }
      notes.set(req, note);
      // With no 'error' listener on the proxy, a failed attempt rejects the promise web() returns.
      proxy
        .web(req, res, { target: `http://127.0.0.1:${target.port}`, buffer: Readable.from([body]) })
        .catch((err: NodeJS.ErrnoException) => {
          if (!res.headersSent && isDown(err, req.method)) {
            skipped.push(target.name);
            log(`balancer: ${target.name} is down (${err.code ?? err.message}); trying another instance`);
            attempt();
            return;
          }
          if (!res.headersSent) sendJson(res, 502, { error: `${target.name} failed: ${err.message}` });
          else res.destroy();
        });
    };
    attempt(first);
  }

  function instancesApi(cluster: BackendPool, rest: string, req: IncomingMessage, res: ServerResponse): void {
    if (rest === '' && req.method === 'GET') {
      sendJson(res, 200, cluster.status());
      return;
    }
    const kill = /^\/([^/]+)\/kill$/.exec(rest);
    if (kill && req.method === 'POST') {
      const instance = cluster.get(decodeURIComponent(kill[1] ?? ''));
      if (!instance) {
        sendJson(res, 404, { error: `no instance ${kill[1]} in the ${cluster.kind} cluster` });
        return;
      }
      if (!instance.kill()) {
        sendJson(res, 409, { error: `${instance.name} is not running; it restarts by itself` });
        return;
      }
      log(`${instance.name} killed from the page`);
      sendJson(res, 200, { name: instance.name, alive: false, restartInMs: options.restartDelayMs });
      return;
    }
    sendJson(res, 404, { error: 'use GET .../instances or POST .../instances/:name/kill' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://balancer');
    const path = url.pathname;

    let cluster: BackendPool | undefined;
    let apiPath = path;
    if (path === '/api' || path.startsWith('/api/')) cluster = shared;
    else if (path === '/sticky/api' || path.startsWith('/sticky/api/')) {
      cluster = sticky;
      apiPath = path.slice('/sticky'.length);
    }

    if (!cluster) {
      const asset = req.method === 'GET' || req.method === 'HEAD' ? assets.get(path) : undefined;
      if (!asset) {
        sendJson(res, 404, { error: `nothing at ${req.method} ${path}` });
        return;
      }
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': asset.body.length,
        'cache-control': 'no-cache',
        ...PAGE_HEADERS,
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }

    if (apiPath === '/api/instances' || apiPath.startsWith('/api/instances/')) {
      instancesApi(cluster, apiPath.slice('/api/instances'.length), req, res);
      return;
    }

    const body = await readBody(req);
    if (body === null) {
      res.setHeader('connection', 'close');
      sendJson(res, 413, { error: `request bodies are limited to ${MAX_BODY_BYTES} bytes here` });
      return;
    }
    // The instances serve /api/... for both clusters.
    req.url = apiPath + url.search;
    const pinned =
      cluster === sticky ? cluster.get(parseCookies(req.headers.cookie ?? '')[STICKY_COOKIE]) : undefined;
    forward(cluster, req, res, body, pinned);
  }

  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`balancer: ${(err as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'the balancer failed on this request' });
      else res.destroy();
    });
  });
}

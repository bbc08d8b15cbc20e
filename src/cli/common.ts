/**
 * What the `baton` commands share: the `--store` option (also read from `BATON_STORE`), opening and
 * closing a store, exit codes, one-line error messages, tables, and progress bars that never mix
 * with data on stdout.
 *
 * Exit codes: 0 success, 1 failure (the store said no, something is unhealthy), 2 bad usage
 * (unknown command or option, malformed value, bad store URL, missing client package).
 */
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { can } from '../core/capabilities.js';
import { isBatonError } from '../core/errors.js';
import type { TableDescription } from '../stores/dynamodb/index.js';
import type { Store } from '../stores/store.js';
import { type CreateStoreOptions, createStore, isConfigError } from '../stores/url.js';

/** A store's warning, as one line on stderr. */
export function printWarning(message: string): void {
  process.stderr.write(`baton: warning: ${messageOf(message)}\n`);
}

/** How a command adds itself to the program: one call per command in `main.ts`. */
export type RegisterCommand = (program: Command) => void;

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The invocation is wrong (exit 2): a missing or malformed option the parser could not catch. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command ran and found something wrong (exit 1), already reported on stdout or stderr. */
export class ReportedFailure extends Error {
  override readonly name = 'ReportedFailure';
}

export const STORE_HELP =
  'store URL: dynamodb://TABLE?region=R&endpoint=URL, redis://HOST:6379/0?prefix=sess:, ' +
  'postgres://…?table=sessions, mysql://…?table=sessions, memcached://HOST:11211, file:///DIR, memory:';

/** `-s, --store <url>`, falling back to the BATON_STORE environment variable (help says `(env: BATON_STORE)`). */
export function storeOption(flags = '-s, --store <url>', description = STORE_HELP): Option {
  return new Option(flags, description).env('BATON_STORE');
}

/** Commander parser for a positive integer option. */
export function positiveInt(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) <= 0 || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(
        `${name} must be a positive whole number, got ${JSON.stringify(value)}.`,
      );
    }
    return Number(value);
  };
}

/** Commander parser for a positive number (fractions allowed). */
export function positiveNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive number, got ${JSON.stringify(value)}.`);
    }
    return n;
  };
}

/**
 * Opens the store named by `url`, runs `fn`, and closes the store whatever happens. A missing or bad
 * URL is a `UsageError`.
 */
export async function withStore<T>(
  url: string | undefined,
  fn: (store: Store) => Promise<T>,
  options: CreateStoreOptions = {},
): Promise<T> {
  const store = await openStore(url, '--store', options);
  let result: T;
  try {
    result = await fn(store);
  } catch (err) {
    // The command's own error is the one to report; closing may fail for the same cause.
    await store.close().catch(() => {});
    throw err;
  }
  await store.close();
  return result;
}

/** Opens a store for `option` (`--store`, `--from`, `--to`); bad or missing URL → `UsageError`. */
export async function openStore(
  url: string | undefined,
  option: string,
  options: CreateStoreOptions = {},
): Promise<Store> {
  if (url === undefined || url === '') {
    throw new UsageError(
      `${option} <url> is required${option === '--store' ? ' (or set BATON_STORE)' : ''}, e.g. ${option} dynamodb://sessions?region=eu-west-1`,
    );
  }
  try {
    return await createStore(url, { onWarning: printWarning, ...options });
  } catch (err) {
    if (isConfigError(err)) {
      const reason = messageOf(err).replace(/^(\[[\w-]+\] )?option `store`: /, '');
      throw new UsageError(`${option}: ${reason}`, { cause: err });
    }
    throw err;
  }
}

/** An error as one line, without the library prefix (the CLI prints `baton:` instead). */
export function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/^\[baton-session\]\s*/, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

/** Exit code for an error thrown out of a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT_USAGE;
  if (isBatonError(err) && err.code === 'BATON_CONFIG') return EXIT_USAGE;
  return EXIT_FAILURE;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns, one header row. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(headers), ...rows.map(line)].join('\n')}\n`);
}

/** `2026-11-26T07:00:00Z (in 23h 59m)`. */
export function formatTime(ms: number, now = Date.now()): string {
  const iso = `${new Date(ms).toISOString().slice(0, 19)}Z`;
  return `${iso} (${relative(ms - now)})`;
}

function relative(deltaMs: number): string {
  const past = deltaMs < 0;
  let s = Math.round(Math.abs(deltaMs) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const text = d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
  return past ? `${text} ago` : `in ${text}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export interface Progress {
  update(value: number, payload?: Record<string, string | number>): void;
  setTotal(total: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr, shown only on a terminal or when `force` (`--progress`) is set, so it
 * never mixes with `--json` output on stdout or fills a log file.
 */
export function progressBar(options: {
  force: boolean | undefined;
  total: number;
  format: string;
  payload?: Record<string, string | number>;
}): Progress {
  const show = options.force === true || process.stderr.isTTY === true;
  if (!show) return { update() {}, setTotal() {}, stop() {} };
  const bar = new SingleBar({
    stream: process.stderr,
    format: options.format,
    hideCursor: process.stderr.isTTY === true,
    noTTYOutput: options.force === true,
    notTTYSchedule: 1000,
    etaBuffer: 50,
    barCompleteChar: '█',
    barIncompleteChar: '░',
  });
  bar.start(options.total, 0, options.payload ?? {});
  let stopped = false;
  return {
    update(value, payload) {
      bar.update(value, payload ?? {});
    },
    setTotal(total) {
      bar.setTotal(total);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

/** `--json`, `--progress`: options several commands share. */
export function jsonOption(): Option {
  return new Option('--json', 'print the result as JSON on stdout');
}

export function progressOption(): Option {
  return new Option('--progress', 'show the progress bar (on stderr) even when stderr is not a terminal');
}

/** Table setup (`ensureTable`), which stores declare with `capabilities.ensureTable` (DynamoDB, SQL, file). */
export interface TableSetup {
  ensureTable(options?: Record<string, unknown>): Promise<unknown>;
}

export function hasEnsureTable(store: Store): store is Store & TableSetup {
  return can(store, 'ensureTable');
}

/** A store capability outside the Store contract: a table description (DynamoDB). */
export interface TableDescribe {
  describe(): Promise<TableDescription>;
}

export function hasDescribe(store: Store): store is Store & TableDescribe {
  return typeof (store as Partial<TableDescribe>).describe === 'function';
}

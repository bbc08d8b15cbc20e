/**
 * Statement parameters and reading rows of the shared column layout (see `dialect.ts`) into what
 * the Store contract returns.
 */
import { putOwn } from '../kit/index.js';
import type { SessionSummary, StoredSession } from '../store.js';
import type { SqlRow } from './dialect.js';

/** Collects parameter values and hands out placeholders (`$1` or `?`). */
export class Params {
  readonly values: unknown[] = [];
  readonly #placeholder: (n: number) => string;

  constructor(placeholder: (n: number) => string) {
    this.#placeholder = placeholder;
  }

  add(value: unknown): string {
    this.values.push(value);
    return this.#placeholder(this.values.length);
  }
}

/** Reads a stored `data` object (parsed or JSON text) into key → JSON text. */
export function readData(raw: unknown): Record<string, string> {
  const parsed = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  const out: Record<string, string> = {};
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    // Our writes keep strings; a value written by hand as plain JSON still reads as its text.
    const value = typeof v === 'string' ? v : JSON.stringify(v);
    // `out.__proto__ = …` would not make a member; define it like any other key.
    putOwn(out, k, value);
  }
  return out;
}

/** A column that may come back as a string (bigint), a Buffer (binary) or a number. */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

/** Reads a row of the shared column layout; `data`, `lock_token` and `size` when selected. */
export function readRow(raw: Record<string, unknown>): SqlRow {
  const row: SqlRow = {
    key: text(raw.key) ?? '',
    createdAt: num(raw.created),
    expiresAt: num(raw.expires),
    absoluteExpiresAt: num(raw.absolute_expires),
    version: num(raw.version),
    userId: text(raw.uid),
  };
  if ('data' in raw) row.data = readData(raw.data);
  if ('lock_token' in raw) row.lockToken = text(raw.lock_token);
  if ('size' in raw) row.size = num(raw.size);
  return row;
}

/** A row (with its data) as the Store contract returns a session. */
export function toStored(row: SqlRow): StoredSession {
  const s: StoredSession = {
    data: row.data ?? {},
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    absoluteExpiresAt: row.absoluteExpiresAt,
    version: row.version,
  };
  if (row.userId !== null) s.userId = row.userId;
  return s;
}

/** A listing row (with its size) as a summary. */
export function toSummary(row: SqlRow): SessionSummary {
  const s: SessionSummary = {
    key: row.key,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    absoluteExpiresAt: row.absoluteExpiresAt,
    version: row.version,
    size: row.size ?? 0,
  };
  if (row.userId !== null) s.userId = row.userId;
  return s;
}

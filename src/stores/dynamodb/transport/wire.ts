/**
 * DynamoDB's JSON wire format as the store's values need it: binary values are `Uint8Array` in the
 * store and base64 text on the wire; the `Date` header read for the store clock.
 */
import { putOwn } from '../../kit/index.js';
import type { Operation } from './types.js';

/** An HTTP `Date` header (`Thu, 26 Nov 2026 09:30:00 GMT`), in ms since the epoch. */
export function parseDateHeader(value: unknown): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new Error(`no usable Date header in the response (${String(value)})`);
  return ms;
}

/**
 * The operations whose requests can carry binary values (compressed data is written as `B`):
 * the others (reads by key, queries, table management) go out without the walk below.
 */
export const CARRIES_VALUES: ReadonlySet<Operation> = new Set<Operation>([
  'PutItem',
  'UpdateItem',
  'BatchWriteItem',
]);

/**
 * Binary values: `Uint8Array` in the store, base64 text in the JSON body. Most requests carry none
 * (binary appears only with compression): those go out as they are, without a copy.
 */
export function toWire(value: unknown): unknown {
  return hasBinary(value) ? wireCopy(value) : value;
}

function hasBinary(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (hasBinary(v)) return true;
    return false;
  }
  for (const k in value) if (hasBinary((value as Record<string, unknown>)[k])) return true;
  return false;
}

function wireCopy(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(wireCopy);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // `__proto__` included: a data key of that name stays a key.
    for (const [k, v] of Object.entries(value)) {
      putOwn(out, k, wireCopy(v));
    }
    return out;
  }
  return value;
}

/**
 * Decodes `B` / `BS` values (base64 text) to bytes, in place: the value is a freshly parsed reply
 * that nothing else holds.
 */
export function fromWire(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (const v of value) fromWire(v);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const k in record) {
    const v = record[k];
    if (k === 'B' && typeof v === 'string') record[k] = Buffer.from(v, 'base64');
    else if (k === 'BS' && Array.isArray(v))
      record[k] = v.map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64') : b));
    else fromWire(v);
  }
  return value;
}

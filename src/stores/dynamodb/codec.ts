/**
 * How a session sits in a DynamoDB item, and how big DynamoDB counts it.
 *
 * Item: `id` (S, the store key) · `expires` (N, epoch seconds, rounded up: the TTL attribute) ·
 * `data` (M: one entry per top-level key, its JSON text as S, or compressed as B) · `v` version ·
 * `created`, `abs` (absolute expiry) and `xms` (expiry) in ms since the epoch · `uid` (S, sparse,
 * for the user index) · `lk`/`lkx` lock token and lock expiry (ms) · `wt` token of the last write.
 * A lock item (`lock.ts`: its key, `lk`, `lkx`, the TTL attribute and `lki`) sits beside each
 * session that was ever locked.
 */
import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';
import { putOwn } from '../kit/index.js';
import type { AttributeValue, Item } from './transport.js';

/** Attribute names that are not options. Short on purpose: names count toward item size. */
export const ATTR = {
  version: 'v',
  created: 'created',
  absolute: 'abs',
  expiresMs: 'xms',
  user: 'uid',
  lock: 'lk',
  lockUntil: 'lkx',
  writeToken: 'wt',
  /** Set on lock items (`lock.ts`), which are not sessions. */
  lockItem: 'lki',
} as const;

// DynamoDB's item limit: 400 KB, attribute names and values counted (1 KB = 1024 B).
export const MAX_ITEM_BYTES = 400 * 1024;

export type Compression = 'gzip' | 'brotli';

const GZIP_TAG = 0x67; // 'g'
const BROTLI_TAG = 0x62; // 'b'

/**
 * Map keys as stored: an empty name cannot go through `ExpressionAttributeNames`, so `''` is
 * stored as `~`; `__proto__` is stored as `~__proto__` (JSON readers in some engines, dynalite's
 * among them, refuse or drop a map key of that name); a key starting with `~` gets one more `~`
 * in front. Reversible, and every other key is stored as is.
 */
export function encodeKey(key: string): string {
  return key === '' || key === '__proto__' || key.startsWith('~') ? `~${key}` : key;
}

export function decodeKey(stored: string): string {
  return stored.startsWith('~') ? stored.slice(1) : stored;
}

/** One data entry: JSON text as S, or compressed to B when that is smaller. */
export function encodeValue(json: string, compressAbove: number, compression: Compression): AttributeValue {
  if (compressAbove > 0 && json.length >= compressAbove / 3) {
    const raw = Buffer.from(json);
    if (raw.length >= compressAbove) {
      const packed =
        compression === 'brotli'
          ? brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } })
          : gzipSync(raw, { level: 6 });
      if (packed.length + 1 < raw.length) {
        const out = Buffer.allocUnsafe(packed.length + 1);
        out[0] = compression === 'brotli' ? BROTLI_TAG : GZIP_TAG;
        packed.copy(out, 1);
        return { B: out };
      }
    }
  }
  return { S: json };
}

/** JSON text of one data entry; undefined for a value this store did not write. */
export function decodeValue(value: AttributeValue): string | undefined {
  if ('S' in value) return value.S;
  if ('B' in value) {
    const bytes = Buffer.from(value.B);
    const body = bytes.subarray(1);
    if (bytes[0] === GZIP_TAG) return gunzipSync(body).toString();
    if (bytes[0] === BROTLI_TAG) return brotliDecompressSync(body).toString();
  }
  return undefined;
}

export function encodeData(
  data: Record<string, string>,
  compressAbove: number,
  compression: Compression,
): { M: Item } {
  const map: Item = {};
  for (const [k, v] of Object.entries(data))
    putOwn(map, encodeKey(k), encodeValue(v, compressAbove, compression));
  return { M: map };
}

/** The data map; anything else under the data attribute (a PHP handler's string) reads as empty. */
export function decodeData(value: AttributeValue | undefined): Record<string, string> {
  const data: Record<string, string> = {};
  if (value === undefined || !('M' in value)) return data;
  for (const [k, v] of Object.entries(value.M)) {
    const json = decodeValue(v);
    if (json !== undefined) putOwn(data, decodeKey(k), json);
  }
  return data;
}

/** Size of one value as DynamoDB counts it (Number: about one byte per two digits, plus one). */
export function valueSize(value: AttributeValue): number {
  if ('S' in value) return Buffer.byteLength(value.S);
  if ('N' in value) return 1 + Math.ceil(value.N.replace(/^-|\.|e.*$/gi, '').length / 2) + 1;
  if ('B' in value) return value.B.byteLength;
  if ('BOOL' in value || 'NULL' in value) return 1;
  if ('M' in value) return 3 + itemSize(value.M) + Object.keys(value.M).length;
  if ('L' in value) return 3 + value.L.reduce((sum, v) => sum + 1 + valueSize(v), 0);
  if ('SS' in value) return value.SS.reduce((sum, v) => sum + Buffer.byteLength(v), 0);
  if ('NS' in value) return value.NS.reduce((sum, v) => sum + valueSize({ N: v }), 0);
  return value.BS.reduce((sum, v) => sum + v.byteLength, 0);
}

/** Size of an item (or map body): attribute names (UTF-8) plus values. */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

export function str(item: Item, name: string): string | undefined {
  const value = item[name];
  return value !== undefined && 'S' in value ? value.S : undefined;
}

export function num(item: Item, name: string): number | undefined {
  const value = item[name];
  if (value === undefined || !('N' in value)) return undefined;
  const n = Number(value.N);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Write tokens: short random values a store writes with a record so that, after an ambiguous
 * failure, it can tell its own earlier attempt from another writer's. Drawn from a pool of
 * random bytes refilled 4 KB at a time: one `randomBytes` call per write cost about as much as the
 * rest of the token work (it showed in the write route's CPU profile).
 */
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** `bytes` random bytes as base64url text (12 characters for the default 9 bytes). */
export function writeToken(bytes = 9): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(Math.max(POOL_BYTES, bytes));
    offset = 0;
  }
  const token = pool.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return token;
}

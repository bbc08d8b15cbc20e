/** Session size, as the core and `limits.maxSessionBytes` count it, and the limit checks. */
import { SessionTooLargeError } from '../../core/errors.js';
import type { Patch, StoreLimits } from '../../core/store.js';

/** The size limit a patch is held to: the store's own, or the patch's `maxBytes` when lower. */
export function patchLimit(limits: StoreLimits, patch: Patch): number {
  return patch.maxBytes === undefined
    ? limits.maxSessionBytes
    : Math.min(limits.maxSessionBytes, patch.maxBytes);
}

/** Bytes of key names plus JSON text: the size the core and `limits.maxSessionBytes` speak of. */
export function dataSize(data: Record<string, string>): number {
  let size = 0;
  for (const [k, v] of Object.entries(data)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  return size;
}

/** Throws `SessionTooLargeError` (naming the store) when `data` is over `limit`. */
export function checkSize(store: string, data: Record<string, string>, limit: number): void {
  const size = dataSize(data);
  if (size > limit) throw new SessionTooLargeError(size, limit, { scope: store });
}

/**
 * Bulk adoption (`baton migrate --from <legacy url>`): every live session a legacy source lists is
 * copied into the baton store in the form on-the-fly adoption leaves (a baton session plus its
 * adoption record), so a user's first request after the switch needs no read of the old store.
 * Resumable and idempotent: a legacy id whose adoption record exists is skipped, so a second run
 * (or one after an interruption) copies only what is left. Requests adopting at the same time are
 * safe: both sides use the same guarded create.
 */
import { hashId } from '../core/ids.js';
import { type AdoptionHost, adopt, adoptionKey, type LegacySource, readSource } from '../core/legacy.js';
import type { Store } from '../core/store.js';

export interface LegacyMigrateOptions {
  /** Count what would be copied, write nothing. @default false */
  dryRun?: boolean;
  /** Sessions copied at the same time. @default 8 */
  concurrency?: number;
  /** Most sessions per second (each is a few reads and two writes); unset: no limit. */
  rate?: number;
  /** The app's `keyPrefix`. @default '' */
  keyPrefix?: string;
  /** The app's `hashIds`. @default true */
  hashIds?: boolean;
  /** The app's `userKey` (`'passport.user'` for Passport). @default 'userId' */
  userKey?: string;
  /** The app's `lifetime` in seconds (used only for records without an expiry). @default 86400 */
  lifetime?: number;
  /** The app's `absoluteLifetime` in seconds. @default 604800 */
  absoluteLifetime?: number;
  onProgress?: (done: number, total: number, summary: LegacyMigrateSummary) => void;
}

export interface LegacyMigrateSummary {
  /** Legacy ids the source listed. */
  found: number;
  /** Copied into the baton store (or would be, in a dry run). */
  copied: number;
  /** Adopted already (an earlier run, or a request). */
  skipped: number;
  /** Expired or deleted at the source between listing and reading. */
  gone: number;
  failed: number;
  dryRun: boolean;
  /** At most 20; never a session id. */
  errors: string[];
}

/** Spaces calls so that at most `perSecond` start in any second. */
function pacer(perSecond: number | undefined): () => Promise<void> {
  if (perSecond === undefined) return async () => {};
  const gapMs = 1000 / perSecond;
  let next = Date.now();
  return async () => {
    const now = Date.now();
    const at = Math.max(now, next);
    next = at + gapMs;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  };
}

export async function migrateLegacy(
  source: LegacySource,
  store: Store,
  options: LegacyMigrateOptions = {},
): Promise<LegacyMigrateSummary> {
  if (!source.ids) throw new Error(`the legacy ${source.name} source cannot list its sessions`);
  const keyPrefix = options.keyPrefix ?? '';
  const hashIds = options.hashIds ?? true;
  const host: AdoptionHost = {
    store,
    keyPrefix,
    userKey: options.userKey ?? 'userId',
    lifetimeMs: (options.lifetime ?? 86_400) * 1000,
    absoluteLifetimeMs: (options.absoluteLifetime ?? 604_800) * 1000,
    now: () => store.clock?.now() ?? Date.now(),
    keyFor: (id) => keyPrefix + (hashIds ? hashId(id) : id),
    seal: (_id, values) => values,
    call: (fn) => fn(),
  };
  const ids: string[] = [];
  for await (const id of source.ids()) ids.push(id);
  const summary: LegacyMigrateSummary = {
    found: ids.length,
    copied: 0,
    skipped: 0,
    gone: 0,
    failed: 0,
    dryRun: options.dryRun ?? false,
    errors: [],
  };
  const pace = pacer(options.rate);
  let next = 0;
  let done = 0;
  options.onProgress?.(0, ids.length, summary);
  const one = async (legacyId: string): Promise<'copied' | 'skipped' | 'gone'> => {
    await pace();
    if (await store.get(adoptionKey(keyPrefix, legacyId))) return 'skipped';
    const record = await readSource(source, () => source.get(legacyId));
    if (!record) return 'gone';
    if (summary.dryRun) return 'copied';
    const outcome = await adopt(host, legacyId, record);
    return outcome.kind === 'adopted' ? 'copied' : outcome.kind === 'taken' ? 'skipped' : 'gone';
  };
  const worker = async () => {
    while (next < ids.length) {
      const legacyId = ids[next++] as string;
      try {
        summary[await one(legacyId)] += 1;
      } catch (err) {
        summary.failed += 1;
        if (summary.errors.length < 20) summary.errors.push((err as Error)?.message ?? String(err));
      }
      done += 1;
      options.onProgress?.(done, ids.length, summary);
    }
  };
  const workers = Math.min(options.concurrency ?? 8, Math.max(ids.length, 1));
  await Promise.all(Array.from({ length: workers }, worker));
  return summary;
}

/**
 * `ExpressSessionStore` with `legacy: { source }`: for teams that keep express-session and only
 * switch the store under it. The cookie and its id stay express-session's, so a session the new
 * store does not have is looked up once in the old one (`source`) and copied over, under the same
 * id. An adoption marker (under a hash of the id, never the id) remembers the copy, so a session
 * logged out later is never read from the old store again.
 */
import { adoptionKey, type LegacySource, legacyExpiry, readSource } from '../../core/legacy.js';
import type { Store, StoredSession } from '../../core/store.js';

export interface ExpressSessionLegacyOptions {
  /** Where the old sessions are: `connectRedis({ client })` and the others from `baton-session/legacy`. */
  source: LegacySource;
}

export interface LegacyContext {
  store: Store;
  keyPrefix: string;
  key: string;
  now: number;
  /** Seconds a session without an expiry of its own lives. */
  ttlMs: number;
  absoluteLifetimeMs: number;
  userOf(data: Record<string, unknown>): string | undefined;
  encode(data: Record<string, unknown>): Record<string, string>;
  call<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * The session for `sid` copied from the legacy source (or the copy a concurrent request made),
 * or null when there is none, it expired, or it was adopted before (and is gone since).
 */
export async function adoptSid(
  legacy: ExpressSessionLegacyOptions,
  ctx: LegacyContext,
  sid: string,
): Promise<StoredSession | null> {
  const { store } = ctx;
  const marker = adoptionKey(ctx.keyPrefix, sid);
  if (await ctx.call(() => store.get(marker))) return null;
  const source = legacy.source;
  const record = await ctx.call(() => readSource(source, () => source.get(sid)));
  if (!record) return null;
  const expiresAt = legacyExpiry(record, ctx.now, ctx.ttlMs);
  if (expiresAt <= ctx.now) return null;
  const absoluteExpiresAt = ctx.now + ctx.absoluteLifetimeMs;
  // express-session needs its `cookie` field back: the data is kept whole.
  const session: StoredSession = {
    data: ctx.encode(record.data),
    createdAt: ctx.now,
    expiresAt: Math.min(expiresAt, absoluteExpiresAt),
    absoluteExpiresAt,
    version: 1,
  };
  const userId = ctx.userOf(record.data);
  if (userId !== undefined) session.userId = userId;
  let adopted: StoredSession | null = session;
  try {
    await ctx.call(() => store.create(ctx.key, session));
  } catch (err) {
    if ((err as { code?: string }).code !== 'BATON_SESSION_EXISTS') throw err;
    // A concurrent request copied it first: that copy is the session.
    adopted = await ctx.call(() => store.get(ctx.key));
  }
  const markerRecord: StoredSession = {
    data: { adopted: 'true' },
    createdAt: ctx.now,
    expiresAt,
    absoluteExpiresAt: expiresAt,
    version: 1,
  };
  await ctx
    .call(() => store.create(marker, markerRecord))
    .catch((err: { code?: string }) => {
      if (err.code !== 'BATON_SESSION_EXISTS') throw err;
    });
  return adopted;
}

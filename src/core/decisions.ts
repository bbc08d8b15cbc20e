/**
 * Pure save decisions and the per-key diff, each testable alone. Used by the session manager and
 * by the express-session store, so both decide the same way.
 */

/** An unchanged session is written only when its expiry would move by more than `touchAfterMs`. */
export function shouldTouch(storedExpiresAt: number, nextExpiresAt: number, touchAfterMs: number): boolean {
  return nextExpiresAt - storedExpiresAt > touchAfterMs;
}

/** A new session is stored only when it holds data, unless `saveUninitialized`. */
export function shouldCreate(dataKeys: number, saveUninitialized: boolean): boolean {
  return dataKeys > 0 || saveUninitialized;
}

/** What a write changes: the keys whose JSON text differs from what was loaded, and the keys gone. */
export interface DataDiff {
  set: Record<string, string>;
  unset: string[];
}

/**
 * Top-level per-key diff by JSON text: a key is set when its text differs from the loaded one
 * (so `basket.push(x)` is a change), unset when it was loaded and is no longer there.
 */
export function diffData(
  loaded: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  next: ReadonlyMap<string, string>,
): DataDiff {
  const before: ReadonlyMap<string, string> =
    loaded instanceof Map ? loaded : new Map(Object.entries(loaded as Record<string, string>));
  const set: Record<string, string> = {};
  for (const [key, text] of next) if (before.get(key) !== text) set[key] = text;
  const unset = [...before.keys()].filter((k) => !next.has(k));
  return { set, unset };
}

/** Whether a diff writes anything. */
export function hasChanges(diff: DataDiff): boolean {
  return diff.unset.length > 0 || Object.keys(diff.set).length > 0;
}

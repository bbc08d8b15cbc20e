/**
 * Pure save decisions and the per-key diff, each testable alone. Used by the session manager and
 * by the express-session store, so both decide the same way.
 */
import { putOwn } from './codec.js';

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

/** Texts by data key: the session's snapshot (a Map) or a stored record's data (an object). */
export type DataTexts = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

/**
 * Top-level per-key diff by JSON text: a key is set when its text differs from the loaded one
 * (so `basket.push(x)` is a change), unset when it was loaded and is no longer there. Runs on every
 * write, so it reads both sides where they are, without copying either into a Map.
 */
export function diffData(loaded: DataTexts, next: DataTexts): DataDiff {
  const set: Record<string, string> = {};
  const unset: string[] = [];
  if (next instanceof Map) {
    for (const [key, text] of next) if (textOf(loaded, key) !== text) putOwn(set, key, text);
  } else {
    for (const key of Object.keys(next)) {
      const text = (next as Record<string, string>)[key] as string;
      if (textOf(loaded, key) !== text) putOwn(set, key, text);
    }
  }
  if (loaded instanceof Map) {
    for (const key of loaded.keys()) if (textOf(next, key) === undefined) unset.push(key);
  } else {
    for (const key of Object.keys(loaded)) if (textOf(next, key) === undefined) unset.push(key);
  }
  return { set, unset };
}

/** The text under `key`: own properties only, so `constructor` or `__proto__` is only ever data. */
function textOf(texts: DataTexts, key: string): string | undefined {
  if (texts instanceof Map) return texts.get(key);
  return Object.hasOwn(texts, key) ? (texts as Record<string, string>)[key] : undefined;
}

/** Whether a diff writes anything. */
export function hasChanges(diff: DataDiff): boolean {
  return diff.unset.length > 0 || Object.keys(diff.set).length > 0;
}

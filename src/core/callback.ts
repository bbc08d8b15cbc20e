/** A node-style callback, as express-session's methods take. */
export type Callback<T = void> = (err: Error | null, value?: T) => void;

/**
 * Promise-first methods that also take a callback (express-session compatibility). With a
 * callback, the callback gets the outcome and the returned promise never rejects.
 *
 * The callback runs in its own microtask, outside the promise chain: an exception it throws is an
 * uncaught exception (as with express-session's MemoryStore), not an unhandled rejection, and never
 * calls the callback a second time with its own error.
 */
export function withCallback<T>(promise: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (typeof callback !== 'function') return promise;
  return promise.then(
    (value) => {
      queueMicrotask(() => callback(null, value));
      return value;
    },
    (err: Error) => {
      queueMicrotask(() => callback(err));
      return undefined as T;
    },
  );
}

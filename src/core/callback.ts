/** A node-style callback, as express-session's methods take. */
export type Callback<T = void> = (err: Error | null, value?: T) => void;

/**
 * Promise-first methods that also take a callback (express-session compatibility). With a
 * callback, the callback gets the outcome and the returned promise never rejects.
 */
export function withCallback<T>(promise: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (typeof callback !== 'function') return promise;
  return promise.then(
    (value) => {
      callback(null, value);
      return value;
    },
    (err: Error) => {
      callback(err);
      return undefined as T;
    },
  );
}

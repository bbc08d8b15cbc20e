/**
 * Requests waiting, by key, for an engine's word that a lock was released (Redis pub/sub,
 * PostgreSQL LISTEN/NOTIFY). A wait ends at `wake(key)`, at `wakeAll()` or at its timeout,
 * whichever comes first, and never rejects: a message lost or never sent costs the waiter its
 * timeout, one step of its backoff, nothing more. The driver owns the engine's side (subscribing,
 * reconnecting), calls `wake` with what it hears and `close` when the store closes; `closed` tells
 * its subscription code that nobody will wait again.
 */
export class Waiters {
  /** Key → the wake-ups of its waiters. */
  readonly #byKey = new Map<string, Set<() => void>>();
  #closed = false;

  /**
   * Resolves when `key` is woken or after `timeoutMs` (a negative or non-finite one ends the
   * wait on the next turn); at once after `close()`. The timer is kept referenced: a waiting
   * request is work in progress.
   */
  wait(key: string, timeoutMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const ms = Number.isFinite(timeoutMs) ? Math.max(0, timeoutMs) : 0;
    return new Promise((resolve) => {
      let set = this.#byKey.get(key);
      if (!set) {
        set = new Set();
        this.#byKey.set(key, set);
      }
      const waiters = set;
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.#byKey.get(key) === waiters) this.#byKey.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
  }

  /** Ends every wait on `key`. */
  wake(key: string): void {
    const waiters = this.#byKey.get(key);
    if (!waiters) return;
    this.#byKey.delete(key);
    for (const done of [...waiters]) done();
  }

  /** Ends every wait (the store closes, or the engine's messages may have gone missing). */
  wakeAll(): void {
    for (const key of [...this.#byKey.keys()]) this.wake(key);
  }

  /** Ends every wait, and every later one at once. Idempotent. */
  close(): void {
    this.#closed = true;
    this.wakeAll();
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The number of keys with waiters. */
  get size(): number {
    return this.#byKey.size;
  }
}

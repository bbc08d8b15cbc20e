/**
 * How the Redis store talks to Redis: the client (opened on first use when the store made it),
 * one command or script at a time, each bounded by `commandTimeoutMs`, errors mapped at the edge,
 * and `WAIT` after a write when `waitForReplicas` asks for it.
 */
import { ConfigError, StoreUnavailableError } from '../../core/errors.js';
import { type OperationReporter, storeClosed } from '../kit/index.js';
import type { RedisCommands } from './commands.js';
import { commandTimedOut, isNoScript, noClientPackage, toStoreError } from './failures.js';
import { NAME, type ResolvedRedisOptions } from './options.js';
import { ownClient } from './own-client.js';
import type { Script } from './scripts.js';

export class RedisConnection {
  readonly #options: ResolvedRedisOptions;
  readonly #ops: OperationReporter;
  #commands: RedisCommands | undefined;
  #opening: Promise<RedisCommands> | undefined;
  #lastConnectionError: unknown;
  #closed = false;
  /** Maps a rejection to a baton error (one function, made once: this runs on every call). */
  readonly #fail = (err: unknown): never => {
    throw toStoreError(err, this.#lastConnectionError, this.#options.address);
  };

  constructor(options: ResolvedRedisOptions, ops: OperationReporter) {
    this.#options = options;
    this.#ops = ops;
    this.#commands = options.commands;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The client once it can take commands (connecting a client the store made, on first use). */
  async ready(): Promise<RedisCommands> {
    const redis = this.#commands && !this.#closed ? this.#commands : await this.#open();
    const ready = redis.ready();
    if (ready) await ready;
    return redis;
  }

  /**
   * Checks the input (before any I/O), then runs `fn` on a ready client, mapping its errors and
   * reporting the call as operation `op`.
   */
  run<T>(op: string, check: () => void, fn: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#ops.measure(op, () => {
      try {
        check();
      } catch (err) {
        return Promise.reject(err);
      }
      const redis = this.#commands;
      // The common case (a client that is open and ready) goes straight to `fn`.
      if (redis && !this.#closed && redis.ready() === undefined) {
        return fn(redis).then(undefined, this.#fail);
      }
      return this.ready().then(fn).then(undefined, this.#fail);
    });
  }

  /**
   * `run` for a session write: with `waitForReplicas`, `fn` runs on one connection and is
   * followed there by `WAIT`, which counts the replicas that have every write of that connection
   * so far, this one included.
   */
  write<T>(op: string, check: () => void, fn: (redis: RedisCommands) => Promise<T>): Promise<T> {
    const wait = this.#options.waitForReplicas;
    if (!wait) return this.run(op, check, fn);
    return this.run(op, check, (redis) => {
      if (!redis.pinned) {
        throw new ConfigError('waitForReplicas', 'is not supported on Redis Cluster', { scope: NAME });
      }
      // The whole call is bounded, waiting for a pooled connection included; a call that gets its
      // connection after the caller gave up writes nothing.
      let abandoned = false;
      const call = redis.pinned(async (connection) => {
        if (abandoned) throw new StoreUnavailableError('gave up waiting for a connection', { scope: NAME });
        const result = await fn(connection);
        const acked = Number(
          await this.timeout(
            connection.send(undefined, ['WAIT', String(wait.replicas), String(wait.timeoutMs)]),
          ),
        );
        if (!(acked >= wait.replicas)) {
          throw new StoreUnavailableError(
            `the ${op} reached the primary but only ${acked} of ${wait.replicas} replicas acknowledged it within ${wait.timeoutMs} ms (waitForReplicas); a failover now could lose it`,
            { scope: NAME },
          );
        }
        return result;
      });
      return this.timeout(call).catch((err: unknown) => {
        abandoned = true;
        throw err;
      });
    });
  }

  /** Maps client and server errors of `fn` (not reported as an operation) to baton errors. */
  guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return fn().then(undefined, this.#fail);
    } catch (err) {
      return this.#fail(err);
    }
  }

  /** Sends one command; on Cluster it goes to the node of the key it names (`args[1]`). */
  send(redis: RedisCommands, args: string[]): Promise<unknown>;
  /** Sends one command and maps its reply as it arrives (one promise fewer on the read path). */
  send<T>(redis: RedisCommands, args: string[], map: (reply: unknown) => T): Promise<T>;
  send(redis: RedisCommands, args: string[], map?: (reply: unknown) => unknown): Promise<unknown> {
    return this.timeout(redis.send(args[1], args), map);
  }

  /** Runs a script on one key (`hash`), sending its source only when the server lacks it. */
  async eval(redis: RedisCommands, script: Script, hash: string, args: string[]): Promise<unknown> {
    try {
      return await this.timeout(redis.send(hash, ['EVALSHA', script.sha, '1', hash, ...args]));
    } catch (err) {
      // A server that has not seen the script yet (or was restarted) says NOSCRIPT: EVAL sends the
      // source once and caches it.
      if (!isNoScript(err)) throw err;
      return this.timeout(redis.send(hash, ['EVAL', script.source, '1', hash, ...args]));
    }
  }

  /**
   * `promise` (its value through `map`, when given), or `StoreUnavailableError` once
   * `commandTimeoutMs` has passed without an answer.
   */
  timeout<T>(promise: Promise<T>): Promise<T>;
  timeout<T, U>(promise: Promise<T>, map: ((value: T) => U) | undefined): Promise<U>;
  timeout<T>(promise: Promise<T>, map?: (value: T) => unknown): Promise<unknown> {
    const ms = this.#options.commandTimeoutMs;
    // One promise settled by whichever comes first (this runs on every command).
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(commandTimedOut(ms)), ms);
      timer.unref();
      promise.then(
        (value) => {
          clearTimeout(timer);
          if (map === undefined) resolve(value);
          else {
            try {
              resolve(map(value));
            } catch (err) {
              reject(err);
            }
          }
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /**
   * Closes a client the store made, after `before` (the store's subscriptions); idempotent. Calls
   * made from the start of this fail with "the store is closed".
   */
  async close(before?: () => Promise<unknown>): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await before?.();
    const commands = this.#commands ?? (await this.#opening?.catch(() => undefined));
    await commands?.close();
  }

  async #open(): Promise<RedisCommands> {
    if (this.#closed) throw storeClosed(NAME);
    if (this.#commands) return this.#commands;
    this.#opening ??= (async () => {
      const commands = await ownClient({
        url: this.#options.url as string,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        onError: (err) => {
          this.#lastConnectionError = err;
        },
      });
      if (!commands) throw noClientPackage();
      this.#commands = commands;
      return commands;
    })();
    return this.#opening;
  }
}

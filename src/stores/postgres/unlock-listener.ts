/**
 * Lock waiters woken by PostgreSQL's LISTEN/NOTIFY instead of polling. The statements that free a
 * lock (unlock, a patch that releases it, a destroy of a locked session) call `pg_notify` with a
 * digest of the key; it is delivered when their transaction commits. One connection per store
 * listens, opened at the first wait (never by the constructor) and kept for the store's life;
 * every waiter of this process waits on it, so the database sees one LISTEN per store, not one
 * per waiter.
 *
 * A wait ends at the notification or at its timeout, whichever comes first, and never rejects:
 * a notification lost (sent before the wait began, or while the connection was down) costs the
 * waiter one step of its backoff, nothing more.
 */
import type pg from 'pg';
import { Waiters } from '../kit/index.js';
import { quote, unlockTopic } from './postgres-sql.js';

/** Opens a connection for LISTEN, or null where the store cannot (a pool without its options). */
export type ListenConnector = () => Promise<pg.Client | null>;

/** After a failed connection, waits go without notifications this long before the next try. */
const RECONNECT_PAUSE_MS = 1000;

export class UnlockListener {
  readonly #channel: string;
  readonly #connect: ListenConnector;
  /** Waiters by topic (key digest). */
  readonly #waiters = new Waiters();
  #client: Promise<pg.Client | null> | undefined;
  /** The connection listening now. */
  #current: pg.Client | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;

  constructor(channel: string, connect: ListenConnector) {
    this.#channel = channel;
    this.#connect = connect;
  }

  /** Resolves when the lock on `key` is announced free, or after `timeoutMs`. Never rejects. */
  wait(key: string, timeoutMs: number): Promise<void> {
    if (this.#waiters.closed) return Promise.resolve();
    const waiting = this.#waiters.wait(unlockTopic(String(key)), timeoutMs);
    void this.#listen();
    return waiting;
  }

  /** Ends the listening connection and lets every waiter go. Idempotent. */
  async close(): Promise<void> {
    this.#waiters.close();
    const client = await this.#client;
    this.#client = undefined;
    if (!client) return;
    // Referenced again while it ends: with the socket unref'd, the process could run out of work
    // before the connection's end is reported, leaving close() pending for ever.
    socketOf(client)?.ref?.();
    await client.end().catch(() => {});
  }

  /** The listening connection, opened on first use (and again after it was lost). */
  #listen(): Promise<pg.Client | null> {
    if (this.#client) return this.#client;
    if (performance.now() - this.#failedAt < RECONNECT_PAUSE_MS) return Promise.resolve(null);
    const opening = this.#open().catch(() => {
      this.#failedAt = performance.now();
      if (this.#client === opening) this.#client = undefined;
      return null;
    });
    this.#client = opening;
    return opening;
  }

  async #open(): Promise<pg.Client | null> {
    const client = await this.#connect();
    if (!client) return null;
    const lost = (): void => {
      if (this.#current !== client) return;
      this.#current = undefined;
      this.#client = undefined;
      // Notifications may have gone missing with the connection: let every waiter try again.
      this.#waiters.wakeAll();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === this.#channel && message.payload !== undefined)
        this.#waiters.wake(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quote(this.#channel)}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.#waiters.closed) {
      await client.end().catch(() => {});
      return null;
    }
    this.#current = client;
    // An idle listener does not keep the process alive; pending waits keep it alive by their timers.
    socketOf(client)?.unref?.();
    return client;
  }
}

/** The socket under a node-postgres client (not part of its typed API). */
function socketOf(client: pg.Client): { ref?: () => void; unref?: () => void } | undefined {
  return (client as unknown as { connection?: { stream?: { ref?: () => void; unref?: () => void } } })
    .connection?.stream;
}

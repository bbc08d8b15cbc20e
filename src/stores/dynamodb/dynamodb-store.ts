/**
 * Sessions in a DynamoDB table every instance shares: the Store methods. The parts live beside
 * this file by role: options.ts (options and their checks), client.ts (the edge every call goes
 * through), failures.ts (DynamoDB's errors → ours), expressions.ts (condition and update
 * builders), item.ts (liveness, decoding, sizes), patch.ts, lock.ts, sweep.ts (scan, gc),
 * table.ts (table management), codec.ts (the item layout).
 */
import {
  ConfigError,
  InvalidInputError,
  isBatonError,
  SessionExistsError,
  StoreUnavailableError,
} from '../../core/errors.js';
import { type Logger, warn } from '../../core/logger.js';
import type {
  GcOptions,
  LockHandle,
  OperationListener,
  Patch,
  ScanOptions,
  SessionSummary,
  Store,
  StoreCapabilities,
  StoredSession,
  StoreLimits,
} from '../../core/store.js';
import {
  assertExpiry,
  assertKey,
  assertPatch,
  assertStoredSession,
  assertUserId,
  OperationReporter,
  writeToken,
} from '../kit/index.js';
import { makeTransport, n, type Report, s, Table } from './client.js';
import { ATTR, encodeData, MAX_ITEM_BYTES, num, str } from './codec.js';
import { liveCondition, type Names, type Values, writeCondition } from './expressions.js';
import { ConditionFailed, unavailable } from './failures.js';
import { checkData, checkItem, decode, isLive } from './item.js';
import { acquire, releaseLockItem } from './lock.js';
import { type DynamoDBStoreOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { patchItem } from './patch.js';
import { collect, type Sweep, scanSessions } from './sweep.js';
import { describeTable, ensureTable, type TableContext, type TableDescription } from './table.js';
import type { Item, Payload } from './transport.js';
import { optionsFromUrl } from './url.js';
import { listUserSessions } from './users.js';

// Room kept in the 400 KB item for `id`, the times, the version, `uid`, the lock and per-entry overhead.
const ITEM_RESERVE_BYTES = 1024;
const _LIST_READS_IN_FLIGHT = 16;

/**
 * One `GetItem` per read, one `UpdateItem` carrying only the changed keys per changed request,
 * one `PutItem` per new session; expiry checked on every read, since TTL deletes days late.
 */
export class DynamoDBStore implements Store {
  readonly name = 'dynamodb';
  readonly limits: StoreLimits = { maxSessionBytes: MAX_ITEM_BYTES - ITEM_RESERVE_BYTES };
  readonly capabilities: StoreCapabilities = Object.freeze({
    lock: true,
    userIndex: true,
    scan: true,
    gc: true,
    ensureTable: true,
    serverTime: true,
    lockNotify: false,
  });
  readonly tableName: string;
  /** Where warnings go when no `onWarning` was given (a manager given `logger` sets it). */
  logger: Logger | undefined;
  readonly #options: ResolvedOptions;
  readonly #table: Table;
  readonly #ops = new OperationReporter('dynamodb');
  readonly #sweep: Sweep;
  readonly #warned = new Set<string>();
  /** DynamoDB's clock: every expiry decision and every `:now` in a condition. */
  readonly clock: Table['clock'];

  constructor(options: DynamoDBStoreOptions) {
    this.#options = resolveOptions(options);
    this.tableName = this.#options.tableName;
    this.#table = new Table(this.tableName, this.#options.layout, makeTransport(options), options.clock);
    this.clock = this.#table.clock;
    this.#sweep = {
      table: this.#table,
      ops: this.#ops,
      segments: this.#options.segments,
      consistentRead: this.#options.consistentRead,
    };
  }

  /**
   * DynamoDB's clock, in ms since the epoch: the `Date` header of a `DescribeTable` response
   * (1 s resolution; an error response such as AccessDenied carries it too). Not reported as
   * an operation.
   */
  serverTime(): Promise<number> {
    return this.#table.serverTime();
  }

  /**
   * A store from a `dynamodb://TABLE?region=...` URL (see `optionsFromUrl` for the parameters);
   * `overrides` win over the URL, e.g. `{ client }` to use your own client instead of building one.
   */
  static fromUrl(url: string | URL, overrides: Partial<DynamoDBStoreOptions> = {}): DynamoDBStore {
    const options: DynamoDBStoreOptions = { ...optionsFromUrl(url), ...overrides };
    if (overrides.client !== undefined) delete options.clientConfig;
    return new DynamoDBStore(options);
  }

  /** `lean`, `aws-sdk-v3` (`transport: 'sdk'`) or `aws-lite`: which path carries the calls. */
  get transport(): string {
    return this.#table.transport.kind;
  }

  #live(item: Item | undefined): item is Item {
    return isLive(this.#options.layout, item, this.clock.now());
  }

  // ---- Store ----

  get(key: string): Promise<StoredSession | null> {
    return this.#ops.measure('get', async (report) => {
      assertKey(this.name, key);
      const out = await this.#table.send(
        'GetItem',
        {
          TableName: this.tableName,
          Key: this.#table.key(key),
          ConsistentRead: this.#options.consistentRead,
        },
        report,
      );
      const item = out.Item as Item | undefined;
      return this.#live(item) ? decode(this.#options.layout, item) : null;
    });
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#ops.measure('create', async (report) => {
      assertKey(this.name, key);
      assertStoredSession(this.name, session);
      checkData(this.name, session.data, this.limits.maxSessionBytes);
      const { layout } = this.#options;
      const token = writeToken();
      const expiresAt = Math.min(session.expiresAt, session.absoluteExpiresAt);
      const item: Item = {
        [layout.hashKey]: s(key),
        [layout.ttl]: n(Math.ceil(expiresAt / 1000)),
        [ATTR.expiresMs]: n(expiresAt),
        [ATTR.created]: n(session.createdAt),
        [ATTR.absolute]: n(session.absoluteExpiresAt),
        [ATTR.version]: n(session.version),
        [layout.data]: encodeData(session.data, layout.compressAbove, layout.compression),
        [ATTR.writeToken]: s(token),
      };
      if (session.userId !== undefined) item[ATTR.user] = s(session.userId);
      checkItem(this.name, item);
      for (let attempt = 0; attempt < 3; attempt++) {
        const names: Names = { '#id': layout.hashKey };
        const values: Values = {};
        const live = liveCondition(layout, names, values, this.clock.now());
        try {
          // A record past its expiry that TTL has not deleted yet may be overwritten.
          await this.#table.send(
            'PutItem',
            {
              TableName: this.tableName,
              Item: item,
              ConditionExpression: `attribute_not_exists(#id) OR NOT ${live}`,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
            report,
          );
          return;
        } catch (err) {
          if (!(err instanceof ConditionFailed)) throw err;
          const current = await this.#table.conditionItem(key, err, report);
          // An earlier attempt of this very call landed (an HTTP 500 after the write, retried by the client).
          if (current && str(current, ATTR.writeToken) === token) return;
          if (this.#live(current)) throw new SessionExistsError({ scope: this.name });
        }
      }
      throw new SessionExistsError({ scope: this.name });
    });
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#ops.measure('patch', async (report) => {
      assertKey(this.name, key);
      assertPatch(this.name, patch);
      const result = await patchItem(this.#table, this.limits, key, patch, report);
      // The write took the token out of the session; the lock item frees waiters.
      if (result !== null && patch.lockToken !== undefined && patch.releaseLock) {
        await this.#releaseAfterWrite(key, patch.lockToken, report);
      }
      return result;
    });
  }

  /** Frees the lock item after a write that released the lock; the write stands whatever happens here. */
  async #releaseAfterWrite(key: string, token: string, report: Report): Promise<void> {
    try {
      await releaseLockItem(this.#table, key, token, report);
    } catch (err) {
      // The session write is durable, so the call must not fail now: the lock item expires at
      // `lockTtl` by itself, and waiters get the lock then.
      if (!isBatonError(err)) throw err;
      this.#warn(
        `a released lock's item could not be deleted (${err.code}); it frees itself at the lock's expiry`,
      );
    }
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#ops.measure('touch', async (report) => {
      assertKey(this.name, key);
      assertExpiry(this.name, expiresAt);
      const { layout } = this.#options;
      for (let attempt = 0; attempt < 3; attempt++) {
        const names: Names = {};
        const values: Values = {};
        const condition = writeCondition(layout, names, values, {}, expiresAt, this.clock.now());
        try {
          await this.#table.send(
            'UpdateItem',
            {
              TableName: this.tableName,
              Key: this.#table.key(key),
              UpdateExpression: 'SET #xms = :x, #exp = :xs',
              ConditionExpression: condition,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
            report,
          );
          return true;
        } catch (err) {
          if (!(err instanceof ConditionFailed)) throw err;
          const current = await this.#table.conditionItem(key, err, report);
          if (!this.#live(current)) return false;
          const abs = num(current, ATTR.absolute);
          if (abs !== undefined && abs < expiresAt) expiresAt = abs;
        }
      }
      return false;
    });
  }

  destroy(key: string): Promise<boolean> {
    return this.#ops.measure('destroy', async (report) => {
      assertKey(this.name, key);
      // Conditional, so exactly one of concurrent destroys deletes the item: engines need not
      // serialize unconditional deletes, and DynamoDB Local does not (both get ALL_OLD back).
      let out: Payload;
      try {
        out = await this.#table.send(
          'DeleteItem',
          {
            TableName: this.tableName,
            Key: this.#table.key(key),
            ConditionExpression: 'attribute_exists(#id)',
            ExpressionAttributeNames: { '#id': this.#options.layout.hashKey },
            ReturnValues: 'ALL_OLD',
          },
          report,
        );
      } catch (err) {
        // Gone already (another destroy, gc or TTL got there first): not ours to report.
        if (err instanceof ConditionFailed) return false;
        throw err;
      }
      return this.#live(out.Attributes as Item | undefined);
    });
  }

  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return this.#ops.measure('lock', async (report) => {
      assertKey(this.name, key);
      if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
        throw new InvalidInputError(`a lock's ttlMs must be a positive number of ms, got ${String(ttlMs)}`, {
          scope: this.name,
        });
      }
      return acquire(this.#table, key, ttlMs, report, (k, token) =>
        this.#ops.measure('unlock', (r) => releaseLockItem(this.#table, k, token, r)),
      );
    });
  }

  listByUser(userId: string): Promise<SessionSummary[]> {
    return this.#ops.measure('listByUser', async (report) => {
      assertUserId(this.name, userId);
      return listUserSessions(this.#table, this.#options, userId, report);
    });
  }

  scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    return scanSessions(this.#sweep, options);
  }

  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#ops.measure('gc', (report) => collect(this.#sweep, options, report));
  }

  // ---- table management ----

  #warn(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    const line = `[baton-session] [dynamodb] ${message}`;
    if (this.#options.onWarning) this.#options.onWarning(line);
    else warn(this.logger, { code: 'BATON_DYNAMODB', scope: 'dynamodb' }, line);
  }

  #tableContext(): TableContext {
    const { layout, userIndexName, userIndex, billing } = this.#options;
    return {
      tableName: this.tableName,
      hashKey: layout.hashKey,
      ttlAttribute: layout.ttl,
      userIndexName,
      userIndex,
      billing,
      call: (operation, input) => this.#table.transport.call(operation, input),
      warn: (message) => this.#warn(message),
    };
  }

  /**
   * Creates the table when missing (on-demand unless `billing` says otherwise), waits until it is
   * ACTIVE, adds the user index (unless `userIndex: false`) and enables TTL on `ttlAttribute`.
   * Idempotent: safe on every start. On an engine without TTL it warns once and carries on.
   */
  ensureTable(): Promise<TableDescription> {
    return this.#ops.measure('ensureTable', async () => {
      try {
        return await ensureTable(this.#tableContext());
      } catch (err) {
        if (err instanceof ConfigError || err instanceof StoreUnavailableError) throw err;
        throw unavailable(this.tableName, 'CreateTable', err);
      }
    });
  }

  /** The table as DynamoDB describes it: key schema, billing, TTL status, user index. Changes nothing. */
  describe(): Promise<TableDescription> {
    return this.#ops.measure('describe', async () => {
      try {
        return await describeTable(this.#tableContext());
      } catch (err) {
        throw unavailable(this.tableName, 'DescribeTable', err);
      }
    });
  }

  onOperation(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  async close(): Promise<void> {
    this.#table.close();
  }
}

import { randomBytes, randomUUID } from 'node:crypto';
import {
  ConfigError,
  ConflictError,
  InvalidInputError,
  isBatonError,
  NotSupportedError,
  SessionDataError,
  SessionExistsError,
  SessionTooLargeError,
  StoreUnavailableError,
} from '../../core/errors.js';
import { type Logger, warn } from '../../core/logger.js';
import { type ClockOption, resolveClockOptions, SyncedClock } from '../clock.js';
import {
  applyPatchData,
  assertExpiry,
  assertKey,
  assertPatch,
  assertStoredSession,
  assertUserId,
  dataSize,
  OperationReporter,
  patchLimit,
  reportAttempts,
  sleep,
  summarize,
} from '../kit/index.js';
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
} from '../store.js';
import {
  ATTR,
  type Compression,
  decodeData,
  encodeData,
  encodeKey,
  encodeValue,
  itemSize,
  MAX_ITEM_BYTES,
  num,
  str,
} from './codec.js';
import {
  type BillingOptions,
  describeTable,
  ensureTable,
  type TableContext,
  type TableDescription,
} from './table.js';
import {
  type AttributeValue,
  type AwsLiteClient,
  awsLiteTransport,
  createSdkV3Client,
  type DynamoDBClientConfig,
  describeFailure,
  type Item,
  isAwsLiteClient,
  isSdkV3Client,
  type Operation,
  type Payload,
  type SdkV3Client,
  sdkV3Transport,
  type Transport,
  type TransportChoice,
} from './transport.js';
import { optionsFromUrl } from './url.js';

export interface DynamoDBStoreOptions {
  /** The table's name. Required. Create it with `ensureTable()` or `baton create-table`. */
  tableName: string;
  /**
   * A client to use: an AWS SDK v3 `DynamoDBClient`, or an `@aws-lite/client` instance (load the
   * `@aws-lite/dynamodb` plugin or not: the store sends raw DynamoDB JSON). It stays open on `close()`.
   * Give either this or `clientConfig`.
   */
  client?: SdkV3Client | AwsLiteClient;
  /** Settings for an SDK v3 client the store builds (tuned: static endpoint, keep-alive) and closes. */
  clientConfig?: DynamoDBClientConfig;
  /** `'lean'` (own HTTP path driven by the SDK client's settings) or `'sdk'` (`client.send()`). @default 'lean' */
  transport?: TransportChoice;
  /**
   * The table's partition key (type S).
   * @default 'id'
   */
  hashKey?: string;
  /**
   * The TTL attribute: the session's expiry in epoch seconds (the earlier of idle and absolute).
   * @default 'expires'
   */
  ttlAttribute?: string;
  /**
   * The map attribute holding one entry per top-level session key.
   * @default 'data'
   */
  dataAttribute?: string;
  /**
   * Strongly consistent reads: the next request, on any instance, sees the last write. Eventual
   * reads cost half (0.5 RCU per 4 KB) but may serve a session as it was before the last write.
   * @default true
   */
  consistentRead?: boolean;
  /**
   * The global secondary index on `uid` that `listByUser` queries.
   * @default 'uid-index'
   */
  userIndexName?: string;
  /**
   * `false`: the table has no user index; `listByUser` throws and `ensureTable()` adds none.
   * @default true
   */
  userIndex?: boolean;
  /**
   * Values of at least this many bytes of JSON are compressed (stored as binary) when that makes
   * them smaller; 0 turns compression off. Compression lowers capacity units, not the size limit.
   * @default 4096
   */
  compressAbove?: number;
  /**
   * Algorithm for large values. Either is read back whatever the setting.
   * @default 'gzip'
   */
  compression?: Compression;
  /**
   * Billing of a table `ensureTable()` creates.
   * @default { mode: 'on-demand' }
   */
  billing?: BillingOptions;
  /**
   * Parallel segments of `scan()` and `gc()`.
   * @default 4
   */
  scanSegments?: number;
  /**
   * Receives warnings such as "this engine has no TTL deleter" (each at most once per store).
   * @default the store's `logger` (set by a manager given `logger`), else process.emitWarning
   */
  onWarning?: (message: string) => void;
  /**
   * Which clock decides expiry: `'store'` reads DynamoDB's (the `Date` header of a
   * `DescribeTable` call, 1 s resolution) once a minute and corrects this machine's by the
   * difference; `'local'` uses this machine's as is. See the README.
   * @default 'store'
   */
  clock?: ClockOption;
}

/** A conditional write found the item not as required; `item` is what is there (when known). */
class ConditionFailed extends Error {
  constructor(
    readonly item: Item | undefined,
    /** Whether the error carried its consumed capacity (already reported). */
    readonly charged: boolean,
  ) {
    super('condition failed');
  }
}

/** A ValidationException a caller asked to handle itself. */
class ValidationFailed extends Error {}

// UpdateExpression limits: 4 KB of expression text and 300 operators. Beyond these (with margin
// for the condition and the fixed attributes), a patch rewrites the whole data map instead.
const MAX_EXPRESSION_BYTES = 4096;
const MAX_PATCH_KEYS = 250;
// Map keys are attribute names: at most 64 KB each.
const MAX_KEY_BYTES = 65_535;
// BatchWriteItem takes at most 25 items.
const BATCH_LIMIT = 25;
// Room kept in the 400 KB item for `id`, the times, the version, `uid`, the lock and per-entry overhead.
const ITEM_RESERVE_BYTES = 1024;
const REWRITE_ATTEMPTS = 8;
const LIST_READS_IN_FLIGHT = 16;

type Names = Record<string, string>;
type Values = Record<string, AttributeValue>;

const n = (value: number): AttributeValue => ({ N: String(value) });
const s = (value: string): AttributeValue => ({ S: value });

/**
 * Sessions in a DynamoDB table every instance shares. One `GetItem` per read, one `UpdateItem`
 * carrying only the changed keys per changed request, one `PutItem` per new session; expiry
 * checked on every read, since TTL deletes days late.
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
  readonly #transport: Transport;
  readonly #ops = new OperationReporter('dynamodb');
  readonly #hashKey: string;
  readonly #ttl: string;
  readonly #data: string;
  readonly #consistentRead: boolean;
  readonly #userIndexName: string;
  readonly #userIndex: boolean;
  readonly #compressAbove: number;
  readonly #compression: Compression;
  readonly #billing: BillingOptions;
  readonly #segments: number;
  readonly #onWarning: (message: string) => void;
  readonly #warned = new Set<string>();
  #closed = false;
  /** DynamoDB's clock: every expiry decision and every `:now` in a condition. */
  readonly clock: SyncedClock;

  constructor(options: DynamoDBStoreOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new ConfigError('options', 'pass an object with at least `tableName`', { scope: 'dynamodb' });
    }
    const tableName = options.tableName;
    if (typeof tableName !== 'string' || !/^[a-zA-Z0-9_.-]{3,255}$/.test(tableName)) {
      throw new ConfigError(
        'tableName',
        `must be a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -), got ${JSON.stringify(tableName)}`,
        { scope: 'dynamodb' },
      );
    }
    this.tableName = tableName;
    this.#hashKey = attributeName('hashKey', options.hashKey ?? 'id');
    this.#ttl = attributeName('ttlAttribute', options.ttlAttribute ?? 'expires');
    this.#data = attributeName('dataAttribute', options.dataAttribute ?? 'data');
    this.#userIndexName = options.userIndexName ?? 'uid-index';
    if (typeof this.#userIndexName !== 'string' || !/^[a-zA-Z0-9_.-]{3,255}$/.test(this.#userIndexName)) {
      throw new ConfigError('userIndexName', 'must be an index name (3-255 of a-z A-Z 0-9 _ . -)', {
        scope: 'dynamodb',
      });
    }
    const taken = new Set<string>(Object.values(ATTR));
    for (const [option, value] of [
      ['hashKey', this.#hashKey],
      ['ttlAttribute', this.#ttl],
      ['dataAttribute', this.#data],
    ] as const) {
      if (taken.has(value)) {
        throw new ConfigError(
          option,
          `\`${value}\` is taken (by the store or another option); pick another`,
          {
            scope: 'dynamodb',
          },
        );
      }
      taken.add(value);
    }
    this.#consistentRead = flag('consistentRead', options.consistentRead ?? true);
    this.#userIndex = flag('userIndex', options.userIndex ?? true);
    this.#compressAbove = options.compressAbove ?? 4096;
    if (!Number.isInteger(this.#compressAbove) || this.#compressAbove < 0) {
      throw new ConfigError('compressAbove', 'must be a whole number of bytes (0 turns compression off)', {
        scope: 'dynamodb',
      });
    }
    this.#compression = options.compression ?? 'gzip';
    if (this.#compression !== 'gzip' && this.#compression !== 'brotli') {
      throw new ConfigError('compression', "must be 'gzip' or 'brotli'", { scope: 'dynamodb' });
    }
    this.#billing = options.billing ?? { mode: 'on-demand' };
    validateBilling(this.#billing);
    this.#segments = options.scanSegments ?? 4;
    if (!Number.isInteger(this.#segments) || this.#segments < 1 || this.#segments > 1_000_000) {
      throw new ConfigError('scanSegments', 'must be a whole number from 1', { scope: 'dynamodb' });
    }
    if (options.onWarning !== undefined && typeof options.onWarning !== 'function') {
      throw new ConfigError('onWarning', 'must be a function', { scope: 'dynamodb' });
    }
    this.#onWarning =
      options.onWarning ??
      ((message) => warn(this.logger, { code: 'BATON_DYNAMODB', scope: 'dynamodb' }, message));
    this.#transport = makeTransport(options);
    this.clock = new SyncedClock(() => this.serverTime(), {
      ...resolveClockOptions(options.clock, 'dynamodb'),
      resolutionMs: 1000,
      scope: 'dynamodb',
    });
  }

  /**
   * DynamoDB's clock, in ms since the epoch: the `Date` header of a `DescribeTable` response
   * (1 s resolution; an error response such as AccessDenied carries it too). Not reported as
   * an operation.
   */
  async serverTime(): Promise<number> {
    if (this.#closed) throw new StoreUnavailableError('the store is closed', { scope: this.name });
    return this.#transport.serverDate('DescribeTable', { TableName: this.tableName });
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
    return this.#transport.kind;
  }

  // ---- the edge: every call goes through here ----

  async #send(
    operation: Operation,
    input: Payload,
    report: (units: number) => void,
    handleValidation = false,
  ): Promise<Payload> {
    if (this.#closed) {
      throw new StoreUnavailableError('the store is closed', { scope: this.name });
    }
    let out: Payload;
    try {
      out = await this.#transport.call(operation, { ...input, ReturnConsumedCapacity: 'TOTAL' });
    } catch (err) {
      reportAttempts(report, sdkAttempts(err));
      if (isBatonError(err)) throw err;
      const failure = describeFailure(err);
      const units = (err as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity
        ?.CapacityUnits;
      if (typeof units === 'number') report(units);
      if (failure.name === 'ConditionalCheckFailedException') {
        throw new ConditionFailed(failure.item, typeof units === 'number');
      }
      if (failure.name === 'ValidationException') {
        if (/item size/i.test(failure.message)) {
          throw new SessionTooLargeError(MAX_ITEM_BYTES + 1, MAX_ITEM_BYTES, {
            scope: this.name,
            cause: err,
          });
        }
        if (handleValidation) throw new ValidationFailed(failure.message, { cause: err });
      }
      throw this.#unavailable(operation, err);
    }
    reportAttempts(report, sdkAttempts(out));
    const consumed = out.ConsumedCapacity;
    if (Array.isArray(consumed)) {
      for (const c of consumed) if (typeof c?.CapacityUnits === 'number') report(c.CapacityUnits);
    } else if (typeof consumed?.CapacityUnits === 'number') {
      report(consumed.CapacityUnits);
    }
    return out;
  }

  #unavailable(operation: Operation, err: unknown): StoreUnavailableError {
    const failure = describeFailure(err);
    if (failure.name === 'ResourceNotFoundException') {
      return new StoreUnavailableError(
        `table \`${this.tableName}\` does not exist (${operation}): create it with \`baton create-table\` or \`await store.ensureTable()\`, or check \`tableName\` and the Region`,
        { scope: this.name, cause: err },
      );
    }
    const status = failure.status === undefined ? '' : ` (HTTP ${failure.status})`;
    return new StoreUnavailableError(
      `DynamoDB ${operation} on \`${this.tableName}\` failed: ${failure.name}${status}: ${failure.message}`,
      { scope: this.name, cause: err },
    );
  }

  /** A consistent read of the raw item, for decisions after a failed condition. */
  async #read(key: string, report: (units: number) => void): Promise<Item | undefined> {
    const out = await this.#send(
      'GetItem',
      { TableName: this.tableName, Key: { [this.#hashKey]: s(key) }, ConsistentRead: true },
      report,
    );
    return out.Item as Item | undefined;
  }

  async #conditionItem(key: string, failed: ConditionFailed, report: (units: number) => void) {
    // DynamoDB returns the item with the failure (ALL_OLD); engines that do not, get one more read.
    const item = failed.item ?? (await this.#read(key, report));
    // A refused write still costs write units: about the item's size in 1 KB units (1 when
    // missing). Reported as an estimate when the error did not say, so lock contention shows.
    if (!failed.charged) report(item ? Math.ceil(itemSize(item) / 1024) : 1);
    return item;
  }

  /**
   * Live only while every expiry the item carries is in the future: baton's own (`xms`, `abs`)
   * and the TTL attribute (epoch seconds), which operators shorten and other tools write alone.
   * An item needs at least one of `xms` and the TTL attribute.
   */
  #isLive(item: Item | undefined, now: number): item is Item {
    if (item === undefined) return false;
    const abs = num(item, ATTR.absolute);
    if (abs !== undefined && abs <= now) return false;
    const xms = num(item, ATTR.expiresMs);
    if (xms !== undefined && xms <= now) return false;
    // DynamoDB's TTL ignores an attribute that is not a number; so does this test.
    const seconds = num(item, this.#ttl);
    if (seconds !== undefined && seconds * 1000 <= now) return false;
    return xms !== undefined || seconds !== undefined;
  }

  /** The same test in a condition expression (`#abs` is checked by the write condition). */
  #liveCondition(names: Names, values: Values, now: number): string {
    names['#xms'] = ATTR.expiresMs;
    names['#exp'] = this.#ttl;
    values[':now'] = n(now);
    // Exact seconds (a fraction is fine in N): `#exp > :nowS` is then `#exp * 1000 > now`.
    values[':nowS'] = n(now / 1000);
    values[':N'] = s('N');
    const ttlLive = '(attribute_not_exists(#exp) OR NOT attribute_type(#exp, :N) OR #exp > :nowS)';
    return `((#xms > :now AND ${ttlLive}) OR (attribute_not_exists(#xms) AND #exp > :nowS))`;
  }

  #decode(item: Item): StoredSession {
    const xms = num(item, ATTR.expiresMs);
    const seconds = num(item, this.#ttl);
    // The earlier of the two, so the core sees the expiry that applies (a shortened TTL attribute).
    const expiresAt = Math.min(xms ?? Number.POSITIVE_INFINITY, (seconds ?? Number.POSITIVE_INFINITY) * 1000);
    const session: StoredSession = {
      data: decodeData(item[this.#data]),
      createdAt: num(item, ATTR.created) ?? 0,
      expiresAt,
      absoluteExpiresAt: num(item, ATTR.absolute) ?? expiresAt,
      version: num(item, ATTR.version) ?? 0,
    };
    const userId = str(item, ATTR.user);
    if (userId !== undefined) session.userId = userId;
    return session;
  }

  #checkData(data: Record<string, string>, limit = this.limits.maxSessionBytes): void {
    for (const k of Object.keys(data)) {
      if (Buffer.byteLength(k) + 1 > MAX_KEY_BYTES) {
        throw new SessionDataError(k.slice(0, 40), `the key name is over DynamoDB's 64 KB limit for names`, {
          scope: this.name,
        });
      }
    }
    const size = dataSize(data);
    if (size > limit) throw new SessionTooLargeError(size, limit, { scope: this.name });
  }

  #checkItem(item: Item): void {
    const size = itemSize(item);
    if (size > MAX_ITEM_BYTES) throw new SessionTooLargeError(size, MAX_ITEM_BYTES, { scope: this.name });
  }

  #expiryValues(values: Values, expiresAt: number): void {
    values[':x'] = n(expiresAt);
    // The TTL attribute: epoch seconds, rounded up so DynamoDB never deletes a live session.
    values[':xs'] = n(Math.ceil(expiresAt / 1000));
  }

  // ---- Store ----

  get(key: string): Promise<StoredSession | null> {
    return this.#ops.measure('get', async (report) => {
      assertKey(this.name, key);
      const out = await this.#send(
        'GetItem',
        { TableName: this.tableName, Key: { [this.#hashKey]: s(key) }, ConsistentRead: this.#consistentRead },
        report,
      );
      const item = out.Item as Item | undefined;
      return this.#isLive(item, this.clock.now()) ? this.#decode(item) : null;
    });
  }

  create(key: string, session: StoredSession): Promise<void> {
    return this.#ops.measure('create', async (report) => {
      assertKey(this.name, key);
      assertStoredSession(this.name, session);
      this.#checkData(session.data);
      const token = writeToken();
      const expiresAt = Math.min(session.expiresAt, session.absoluteExpiresAt);
      const item: Item = {
        [this.#hashKey]: s(key),
        [this.#ttl]: n(Math.ceil(expiresAt / 1000)),
        [ATTR.expiresMs]: n(expiresAt),
        [ATTR.created]: n(session.createdAt),
        [ATTR.absolute]: n(session.absoluteExpiresAt),
        [ATTR.version]: n(session.version),
        [this.#data]: encodeData(session.data, this.#compressAbove, this.#compression),
        [ATTR.writeToken]: s(token),
      };
      if (session.userId !== undefined) item[ATTR.user] = s(session.userId);
      this.#checkItem(item);
      for (let attempt = 0; attempt < 3; attempt++) {
        const names: Names = { '#id': this.#hashKey };
        const values: Values = {};
        const live = this.#liveCondition(names, values, this.clock.now());
        try {
          // A record past its expiry that TTL has not deleted yet may be overwritten.
          await this.#send(
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
          const current = await this.#conditionItem(key, err, report);
          // An earlier attempt of this very call landed (an HTTP 500 after the write, retried by the client).
          if (current && str(current, ATTR.writeToken) === token) return;
          if (this.#isLive(current, this.clock.now())) throw new SessionExistsError({ scope: this.name });
        }
      }
      throw new SessionExistsError({ scope: this.name });
    });
  }

  patch(key: string, patch: Patch): Promise<{ version: number } | null> {
    return this.#ops.measure('patch', async (report) => {
      assertKey(this.name, key);
      assertPatch(this.name, patch);
      const limit = patchLimit(this.limits, patch);
      this.#checkData(patch.set, limit);
      const token = writeToken();
      let expiresAt = patch.expiresAt;
      const unset = patch.unset.filter((k) => !Object.hasOwn(patch.set, k));
      const keyCount = Object.keys(patch.set).length + unset.length;
      // Under a `maxBytes` below the item limit a growing write cannot be checked by an update
      // expression (DynamoDB's size() counts a map's entries, not bytes): such writes read the
      // item and write the whole map conditioned on the version read, so concurrent ones cannot
      // add up past the limit. The cost: one strongly consistent read more per growing write.
      const guarded = limit < this.limits.maxSessionBytes && Object.keys(patch.set).length > 0;
      if (patch.replace || guarded || keyCount > MAX_PATCH_KEYS)
        return this.#rewrite(key, patch, token, report);
      for (let attempt = 0; attempt < REWRITE_ATTEMPTS; attempt++) {
        const request = this.#perKeyUpdate(key, patch, unset, token, expiresAt);
        if (Buffer.byteLength(request.UpdateExpression) > MAX_EXPRESSION_BYTES) {
          return this.#rewrite(key, patch, token, report);
        }
        try {
          const out = await this.#send('UpdateItem', request, report, true);
          return { version: num(out.Attributes ?? {}, ATTR.version) ?? 0 };
        } catch (err) {
          // No `data` map (an item made by another tool) or not a map: write the whole map.
          if (err instanceof ValidationFailed && /document path/i.test(err.message)) {
            return this.#rewrite(key, patch, token, report);
          }
          if (err instanceof ValidationFailed) throw this.#unavailable('UpdateItem', err.cause);
          if (!(err instanceof ConditionFailed)) throw err;
          const current = await this.#conditionItem(key, err, report);
          const decided = this.#whyRefused(current, patch, token);
          if (decided !== undefined) return decided;
          const abs = num(current ?? {}, ATTR.absolute);
          if (abs !== undefined && abs < expiresAt) expiresAt = abs;
          // Otherwise the item changed between the refused write and the read: try again.
        }
      }
      throw new ConflictError('the session kept changing while this patch was applied; try again', {
        scope: this.name,
      });
    });
  }

  /**
   * After a refused write: null (gone), the version (our own earlier attempt landed), a
   * ConflictError (stale version, lost lock), or undefined (try again).
   */
  #whyRefused(
    current: Item | undefined,
    patch: Patch,
    token: string,
  ): { version: number } | null | undefined {
    if (current && str(current, ATTR.writeToken) === token) {
      return { version: num(current, ATTR.version) ?? 0 };
    }
    if (!this.#isLive(current, this.clock.now())) return null;
    if (patch.expectVersion !== undefined && (num(current, ATTR.version) ?? 0) !== patch.expectVersion) {
      throw new ConflictError(undefined, { scope: this.name });
    }
    if (patch.lockToken !== undefined && str(current, ATTR.lock) !== patch.lockToken) {
      throw new ConflictError('the lock on this session was lost (it expired and another request took it)', {
        scope: this.name,
      });
    }
    return undefined;
  }

  #perKeyUpdate(key: string, patch: Patch, unset: string[], token: string, expiresAt: number): Payload {
    const names: Names = { '#id': this.#hashKey, '#v': ATTR.version, '#wt': ATTR.writeToken };
    const values: Values = { ':one': n(1), ':zero': n(0), ':wt': s(token) };
    const sets: string[] = [];
    const removes: string[] = [];
    let i = 0;
    for (const [k, json] of Object.entries(patch.set)) {
      names['#data'] = this.#data;
      names[`#k${i}`] = encodeKey(k);
      values[`:v${i}`] = encodeValue(json, this.#compressAbove, this.#compression);
      sets.push(`#data.#k${i} = :v${i}`);
      i++;
    }
    for (const k of unset) {
      names['#data'] = this.#data;
      names[`#k${i}`] = encodeKey(k);
      removes.push(`#data.#k${i}`);
      i++;
    }
    const condition = this.#writeCondition(names, values, patch, expiresAt);
    sets.push('#v = if_not_exists(#v, :zero) + :one', '#xms = :x', '#exp = :xs', '#wt = :wt');
    this.#userUpdate(names, values, patch, sets, removes);
    let expression = `SET ${sets.join(', ')}`;
    if (removes.length > 0) expression += ` REMOVE ${removes.join(', ')}`;
    return {
      TableName: this.tableName,
      Key: { [this.#hashKey]: s(key) },
      UpdateExpression: expression,
      ConditionExpression: `${condition} AND (attribute_not_exists(#wt) OR #wt <> :wt)`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'UPDATED_NEW',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    };
  }

  /** Live, never past the absolute expiry, plus the version or lock token the mode asks for. */
  #writeCondition(names: Names, values: Values, patch: Patch, expiresAt: number): string {
    names['#abs'] = ATTR.absolute;
    this.#expiryValues(values, expiresAt);
    let condition = `attribute_exists(#id) AND ${this.#liveCondition(names, values, this.clock.now())} AND (attribute_not_exists(#abs) OR #abs >= :x)`;
    if (patch.expectVersion !== undefined) {
      names['#v'] = ATTR.version;
      values[':expect'] = n(patch.expectVersion);
      // Items written by other tools have no version: they read as version 0.
      condition +=
        patch.expectVersion === 0 ? ' AND (attribute_not_exists(#v) OR #v = :expect)' : ' AND #v = :expect';
    }
    if (patch.lockToken !== undefined) {
      names['#lk'] = ATTR.lock;
      values[':lock'] = s(patch.lockToken);
      condition += ' AND #lk = :lock';
    }
    return condition;
  }

  #userUpdate(names: Names, values: Values, patch: Patch, sets: string[], removes: string[]): void {
    if (patch.userId === null) {
      names['#uid'] = ATTR.user;
      removes.push('#uid');
    } else if (patch.userId !== undefined) {
      names['#uid'] = ATTR.user;
      values[':uid'] = s(patch.userId);
      sets.push('#uid = :uid');
    }
    if (patch.lockToken !== undefined && patch.releaseLock) {
      names['#lk'] = ATTR.lock;
      names['#lkx'] = ATTR.lockUntil;
      removes.push('#lk', '#lkx');
    }
  }

  /**
   * The whole data map in one write: for `replace`, for patches past the expression limits, and
   * for items without a data map. Read, apply, write conditioned on the version read.
   */
  async #rewrite(
    key: string,
    patch: Patch,
    token: string,
    report: (units: number) => void,
  ): Promise<{ version: number } | null> {
    for (let attempt = 0; attempt < REWRITE_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(5 + Math.random() * 20 * attempt);
      const current = await this.#read(key, report);
      const decided = this.#whyRefused(current, patch, token);
      if (decided !== undefined) return decided;
      const item = current as Item;
      const data = applyPatchData(patch.replace ? {} : decodeData(item[this.#data]), patch);
      this.#checkData(data, patchLimit(this.limits, patch));
      const before = num(item, ATTR.version);
      const version = (before ?? 0) + 1;
      const abs = num(item, ATTR.absolute);
      const expiresAt = Math.min(patch.expiresAt, abs ?? Number.POSITIVE_INFINITY);
      const map = encodeData(data, this.#compressAbove, this.#compression);
      this.#checkItem({ ...item, [this.#data]: map });
      const names: Names = {
        '#id': this.#hashKey,
        '#v': ATTR.version,
        '#data': this.#data,
        '#wt': ATTR.writeToken,
      };
      const values: Values = { ':map': map, ':version': n(version), ':wt': s(token) };
      let condition = this.#writeCondition(names, values, patch, expiresAt);
      // Guarded by the version read (the strict mode's expected version is that already).
      if (patch.expectVersion === undefined) {
        if (before === undefined) condition += ' AND attribute_not_exists(#v)';
        else {
          values[':before'] = n(before);
          condition += ' AND #v = :before';
        }
      }
      const sets = ['#data = :map', '#v = :version', '#xms = :x', '#exp = :xs', '#wt = :wt'];
      const removes: string[] = [];
      this.#userUpdate(names, values, patch, sets, removes);
      let expression = `SET ${sets.join(', ')}`;
      if (removes.length > 0) expression += ` REMOVE ${removes.join(', ')}`;
      try {
        await this.#send(
          'UpdateItem',
          {
            TableName: this.tableName,
            Key: { [this.#hashKey]: s(key) },
            UpdateExpression: expression,
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
          report,
        );
        return { version };
      } catch (err) {
        if (!(err instanceof ConditionFailed)) throw err;
        // Another write came between the read and this one: read again.
      }
    }
    throw new ConflictError('the session kept changing while this patch was applied; try again', {
      scope: this.name,
    });
  }

  touch(key: string, expiresAt: number): Promise<boolean> {
    return this.#ops.measure('touch', async (report) => {
      assertKey(this.name, key);
      assertExpiry(this.name, expiresAt);
      for (let attempt = 0; attempt < 3; attempt++) {
        const names: Names = { '#id': this.#hashKey };
        const values: Values = {};
        const condition = this.#writeCondition(names, values, { set: {}, unset: [], expiresAt }, expiresAt);
        try {
          await this.#send(
            'UpdateItem',
            {
              TableName: this.tableName,
              Key: { [this.#hashKey]: s(key) },
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
          const current = await this.#conditionItem(key, err, report);
          if (!this.#isLive(current, this.clock.now())) return false;
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
        out = await this.#send(
          'DeleteItem',
          {
            TableName: this.tableName,
            Key: { [this.#hashKey]: s(key) },
            ConditionExpression: 'attribute_exists(#id)',
            ExpressionAttributeNames: { '#id': this.#hashKey },
            ReturnValues: 'ALL_OLD',
          },
          report,
        );
      } catch (err) {
        // Gone already (another destroy, gc or TTL got there first): not ours to report.
        if (err instanceof ConditionFailed) return false;
        throw err;
      }
      return this.#isLive(out.Attributes as Item | undefined, this.clock.now());
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
      const token = randomUUID();
      const now = this.clock.now();
      const names: Names = { '#id': this.#hashKey, '#lk': ATTR.lock, '#lkx': ATTR.lockUntil };
      const values: Values = { ':token': s(token), ':until': n(now + ttlMs) };
      const live = this.#liveCondition(names, values, now);
      try {
        // Reads and locks in one call; `#lk = :token` lets a retried request find its own lock.
        const out = await this.#send(
          'UpdateItem',
          {
            TableName: this.tableName,
            Key: { [this.#hashKey]: s(key) },
            UpdateExpression: 'SET #lk = :token, #lkx = :until',
            ConditionExpression: `attribute_exists(#id) AND ${live} AND (attribute_not_exists(#lk) OR #lkx <= :now OR #lk = :token)`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
          report,
        );
        const session = this.#decode(out.Attributes as Item);
        let released = false;
        const release = async () => {
          if (released) return;
          released = true;
          await this.#unlock(key, token);
        };
        return { token, session, release };
      } catch (err) {
        if (!(err instanceof ConditionFailed)) throw err;
        const current = await this.#conditionItem(key, err, report);
        if (!this.#isLive(current, this.clock.now()))
          return { token, session: null, release: async () => {} };
        return null;
      }
    });
  }

  #unlock(key: string, token: string): Promise<void> {
    return this.#ops.measure('unlock', async (report) => {
      try {
        await this.#send(
          'UpdateItem',
          {
            TableName: this.tableName,
            Key: { [this.#hashKey]: s(key) },
            UpdateExpression: 'REMOVE #lk, #lkx',
            ConditionExpression: '#lk = :token',
            ExpressionAttributeNames: { '#lk': ATTR.lock, '#lkx': ATTR.lockUntil },
            ExpressionAttributeValues: { ':token': s(token) },
          },
          report,
        );
      } catch (err) {
        // Not ours any more (expired and taken, released by a patch, or the session is gone).
        if (!(err instanceof ConditionFailed)) throw err;
      }
    });
  }

  listByUser(userId: string): Promise<SessionSummary[]> {
    return this.#ops.measure('listByUser', async (report) => {
      assertUserId(this.name, userId);
      if (!this.#userIndex) throw this.#noIndex();
      const keys: string[] = [];
      let start: Item | undefined;
      do {
        let out: Payload;
        try {
          out = await this.#send(
            'Query',
            {
              TableName: this.tableName,
              IndexName: this.#userIndexName,
              KeyConditionExpression: '#uid = :uid',
              ExpressionAttributeNames: { '#uid': ATTR.user },
              ExpressionAttributeValues: { ':uid': s(userId) },
              ...(start ? { ExclusiveStartKey: start } : {}),
            },
            report,
            true,
          );
        } catch (err) {
          if (err instanceof ValidationFailed && /index/i.test(err.message)) throw this.#noIndex(err);
          if (err instanceof ValidationFailed) throw this.#unavailable('Query', err.cause);
          throw err;
        }
        for (const item of (out.Items ?? []) as Item[]) {
          const key = str(item, this.#hashKey);
          if (key !== undefined) keys.push(key);
        }
        start = out.LastEvaluatedKey as Item | undefined;
      } while (start);
      // The index holds keys only, and lags the table a little: read each session consistently
      // to drop expired, destroyed and re-assigned ones (and to know its size). Users have few sessions.
      const summaries: SessionSummary[] = [];
      for (let i = 0; i < keys.length; i += LIST_READS_IN_FLIGHT) {
        const items = await Promise.all(
          keys.slice(i, i + LIST_READS_IN_FLIGHT).map((key) => this.#read(key, report)),
        );
        items.forEach((item, j) => {
          if (this.#isLive(item, this.clock.now()) && str(item, ATTR.user) === userId) {
            summaries.push(summarize(keys[i + j] as string, this.#decode(item)));
          }
        });
      }
      return summaries;
    });
  }

  #noIndex(cause?: unknown): NotSupportedError {
    return new NotSupportedError(
      `table \`${this.tableName}\` has no index \`${this.#userIndexName}\` on \`${ATTR.user}\`, which listByUser needs: add it with \`baton create-table\` or \`await store.ensureTable()\` (or in the AWS console: a global secondary index with partition key \`${ATTR.user}\` (String))`,
      { scope: this.name, cause },
    );
  }

  async *scan(options: ScanOptions = {}): AsyncIterable<SessionSummary> {
    let seen = 0;
    for await (const items of this.#pages('scan', {})) {
      const now = this.clock.now();
      for (const item of items) {
        if (options.limit !== undefined && seen >= options.limit) return;
        const key = str(item, this.#hashKey);
        if (key === undefined) continue;
        if (!options.includeExpired && !this.#isLive(item, now)) continue;
        seen++;
        yield summarize(key, this.#decode(item));
      }
    }
  }

  /** A parallel Scan (`scanSegments` segments), one page of every unfinished segment per round. */
  async *#pages(
    op: string,
    extra: Payload,
    report?: (units: number) => void,
    onPage?: (out: Payload) => void,
  ): AsyncGenerator<Item[]> {
    const cursors: Array<{ segment: number; start?: Item; done: boolean }> = Array.from(
      { length: this.#segments },
      (_, segment) => ({ segment, done: false }),
    );
    while (cursors.some((c) => !c.done)) {
      const pages = await Promise.all(
        cursors
          .filter((c) => !c.done)
          .map(async (c) => {
            const input: Payload = {
              TableName: this.tableName,
              ConsistentRead: this.#consistentRead,
              Segment: c.segment,
              TotalSegments: this.#segments,
              ...extra,
            };
            if (c.start) input.ExclusiveStartKey = c.start;
            const out = report
              ? await this.#send('Scan', input, report)
              : await this.#ops.measure(op, (r) => this.#send('Scan', input, r));
            onPage?.(out);
            c.start = out.LastEvaluatedKey as Item | undefined;
            c.done = c.start === undefined;
            return (out.Items ?? []) as Item[];
          }),
      );
      for (const page of pages) yield page;
    }
  }

  gc(options: GcOptions = {}): Promise<{ deleted: number; scanned: number }> {
    return this.#ops.measure('gc', async (report) => {
      const rate = options.rate;
      if (rate !== undefined && (typeof rate !== 'number' || !(rate > 0))) {
        throw new ConfigError('rate', 'must be a positive number of capacity units per second', {
          scope: this.name,
        });
      }
      const started = Date.now();
      let units = 0;
      let scanned = 0;
      let deleted = 0;
      const count = (u: number) => {
        units += u;
        report(u);
      };
      // Keeps the average at or under `rate` capacity units per second.
      const pace = async () => {
        if (rate === undefined) return;
        const due = started + (units / rate) * 1000 - Date.now();
        if (due > 0) await sleep(due);
      };
      const now = this.clock.now();
      const names: Names = { '#id': this.#hashKey, '#xms': ATTR.expiresMs, '#exp': this.#ttl };
      const values: Values = { ':now': n(now), ':nowS': n(now / 1000) };
      const filter = {
        // Eventually consistent: half the read units, and an item missed now is caught next time.
        ConsistentRead: false,
        // Any expiry passed (as #isLive): baton's own or the TTL attribute.
        FilterExpression: '#xms <= :now OR #exp <= :nowS',
        ProjectionExpression: '#id',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      };
      for await (const items of this.#pages('gc', filter, count, (out) => {
        scanned += Number(out.ScannedCount ?? 0);
      })) {
        const keys = items.map((item) => item[this.#hashKey]).filter((k) => k !== undefined);
        for (let i = 0; i < keys.length; i += BATCH_LIMIT) {
          const chunk = keys.slice(i, i + BATCH_LIMIT);
          if (!options.dryRun) await this.#deleteBatch(chunk, count, pace);
          deleted += chunk.length;
          options.onProgress?.({ scanned, deleted, capacityUnits: units });
        }
        if (keys.length === 0) options.onProgress?.({ scanned, deleted, capacityUnits: units });
        await pace();
      }
      return { deleted, scanned };
    });
  }

  /** One BatchWriteItem of deletes; unprocessed items are sent again with backoff. */
  async #deleteBatch(
    keys: AttributeValue[],
    report: (units: number) => void,
    pace: () => Promise<void>,
  ): Promise<void> {
    let requests: Payload[] = keys.map((k) => ({ DeleteRequest: { Key: { [this.#hashKey]: k } } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(50 * 2 ** attempt, 5_000) * (0.5 + Math.random() / 2));
      if (attempt > 12) {
        throw new StoreUnavailableError(
          `gc: DynamoDB left ${requests.length} deletes unprocessed after ${attempt} tries (throttled); run gc again with a lower rate`,
          { scope: this.name },
        );
      }
      await pace();
      const out = await this.#send(
        'BatchWriteItem',
        { RequestItems: { [this.tableName]: requests } },
        report,
      );
      requests = (out.UnprocessedItems?.[this.tableName] ?? []) as Payload[];
    }
  }

  // ---- table management ----

  #tableContext(): TableContext {
    return {
      tableName: this.tableName,
      hashKey: this.#hashKey,
      ttlAttribute: this.#ttl,
      userIndexName: this.#userIndexName,
      userIndex: this.#userIndex,
      billing: this.#billing,
      call: (operation, input) => this.#transport.call(operation, input),
      warn: (message) => {
        if (this.#warned.has(message)) return;
        this.#warned.add(message);
        this.#onWarning(`[baton-session] [dynamodb] ${message}`);
      },
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
        throw this.#unavailable('CreateTable', err);
      }
    });
  }

  /** The table as DynamoDB describes it: key schema, billing, TTL status, user index. Changes nothing. */
  describe(): Promise<TableDescription> {
    return this.#ops.measure('describe', async () => {
      try {
        return await describeTable(this.#tableContext());
      } catch (err) {
        throw this.#unavailable('DescribeTable', err);
      }
    });
  }

  onOperation(listener: OperationListener): () => void {
    return this.#ops.subscribe(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
  }
}

function writeToken(): string {
  return randomBytes(9).toString('base64url');
}

function attributeName(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > 255) {
    throw new ConfigError(option, `must be an attribute name (1-255 bytes), got ${JSON.stringify(value)}`, {
      scope: 'dynamodb',
    });
  }
  return value;
}

function flag(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new ConfigError(option, `must be true or false, got ${JSON.stringify(value)}`, {
      scope: 'dynamodb',
    });
  }
  return value;
}

function validateBilling(billing: BillingOptions): void {
  if (typeof billing !== 'object' || billing === null) {
    throw new ConfigError(
      'billing',
      "must be { mode: 'on-demand' } or { mode: 'provisioned', read, write }",
      {
        scope: 'dynamodb',
      },
    );
  }
  if (billing.mode === 'on-demand') return;
  if (billing.mode !== 'provisioned') {
    throw new ConfigError(
      'billing',
      `mode must be 'on-demand' or 'provisioned', got ${JSON.stringify((billing as { mode?: unknown }).mode)}`,
      {
        scope: 'dynamodb',
      },
    );
  }
  for (const unit of ['read', 'write'] as const) {
    const v = billing[unit];
    if (!Number.isInteger(v) || v < 1) {
      throw new ConfigError(
        `billing.${unit}`,
        `must be a whole number of capacity units from 1, got ${String(v)}`,
        {
          scope: 'dynamodb',
        },
      );
    }
  }
}

function makeTransport(options: DynamoDBStoreOptions): Transport {
  const { client, clientConfig } = options;
  if (client !== undefined && clientConfig !== undefined) {
    throw new ConfigError('clientConfig', 'give either `client` or `clientConfig`, not both', {
      scope: 'dynamodb',
    });
  }
  if (client !== undefined) {
    if (isSdkV3Client(client)) return sdkV3Transport(client, false, options.transport);
    if (isAwsLiteClient(client)) return awsLiteTransport(client, options.transport);
    throw new ConfigError(
      'client',
      'must be an AWS SDK v3 DynamoDBClient or an @aws-lite/client instance (a DynamoDBDocumentClient or SDK v2 client will not do)',
      { scope: 'dynamodb' },
    );
  }
  if (clientConfig === undefined) {
    throw new ConfigError('client', 'pass a DynamoDBClient as `client`, or `clientConfig: { region }`', {
      scope: 'dynamodb',
    });
  }
  if (typeof clientConfig !== 'object' || clientConfig === null) {
    throw new ConfigError('clientConfig', 'must be an object ({ region, endpoint, credentials, ... })', {
      scope: 'dynamodb',
    });
  }
  const { maxAttempts, retryMode, timeoutMs, endpoint, region } = clientConfig;
  if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1)) {
    throw new ConfigError(
      'clientConfig.maxAttempts',
      `must be a whole number from 1, got ${String(maxAttempts)}`,
      {
        scope: 'dynamodb',
      },
    );
  }
  if (retryMode !== undefined && retryMode !== 'standard' && retryMode !== 'adaptive') {
    throw new ConfigError('clientConfig.retryMode', "must be 'standard' or 'adaptive'", {
      scope: 'dynamodb',
    });
  }
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 0)) {
    throw new ConfigError('clientConfig.timeoutMs', 'must be a whole number of ms (0 = no limit)', {
      scope: 'dynamodb',
    });
  }
  if (endpoint !== undefined && (typeof endpoint !== 'string' || !URL.canParse(endpoint))) {
    throw new ConfigError('clientConfig.endpoint', `must be a URL, got ${JSON.stringify(endpoint)}`, {
      scope: 'dynamodb',
    });
  }
  if (region === undefined && !process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) {
    throw new ConfigError('clientConfig.region', 'is required (or set AWS_REGION)', { scope: 'dynamodb' });
  }
  const pending = createSdkV3Client(clientConfig);
  // A failure here (no SDK installed) surfaces on the first call, not as an unhandled rejection.
  pending.catch(() => {});
  return sdkV3Transport(pending, true, options.transport);
}

/** HTTP attempts behind one answer (the AWS SDK's `$metadata.attempts`, retries included); 1 where unknown. */
function sdkAttempts(answer: unknown): number {
  const attempts = (answer as { $metadata?: { attempts?: unknown } } | null)?.$metadata?.attempts;
  return typeof attempts === 'number' && attempts > 0 ? attempts : 1;
}

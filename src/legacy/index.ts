export type { LegacyOptions, LegacyRecord, LegacySource } from '../core/legacy.js';
export { signLegacy, unsignLegacy } from '../core/legacy-cookie.js';
export {
  type ConnectDynamoDBOptions,
  connectDynamoDB,
  type DynamodbStoreOptions,
  dynamodbStore,
} from './dynamodb.js';
export { type LegacyMigrateOptions, type LegacyMigrateSummary, migrateLegacy } from './migrate.js';
export { type ConnectRedisOptions, connectRedis } from './redis.js';
export {
  type ConnectPgSimpleOptions,
  connectPgSimple,
  type ExpressMysqlSessionOptions,
  expressMysqlSession,
} from './sql.js';

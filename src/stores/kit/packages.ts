/**
 * Store modules load their client package on first use; this names the package to install when
 * that import fails. Shared by the URL factory and the drivers that load a client themselves.
 */
import { ConfigError } from '../../core/errors.js';

export type StoreKind = 'dynamodb' | 'redis' | 'postgres' | 'mysql' | 'memcached' | 'file' | 'memory';

const CLIENT_PACKAGES: Record<StoreKind, string | undefined> = {
  dynamodb: '@aws-sdk/client-dynamodb',
  redis: 'redis',
  postgres: 'pg',
  mysql: 'mysql2',
  memcached: 'memcache-client',
  file: undefined,
  memory: undefined,
};

/** The `ConfigError` for a store module that failed to import because a package is missing. */
export function missingPackage(kind: StoreKind, err: unknown): ConfigError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const message = String((err as { message?: unknown } | null)?.message ?? '');
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const name = /Cannot find (?:package|module) '([^']+)'/.exec(message)?.[1] ?? CLIENT_PACKAGES[kind];
  if (name === undefined) return undefined;
  if (name.startsWith('.') || name.startsWith('/') || name.startsWith('file:')) {
    // The store module itself is missing from this build.
    return new ConfigError('store', `this version of baton-session has no ${kind} store`, {
      scope: kind,
      cause: err,
    });
  }
  return new ConfigError(
    'store',
    `the ${kind} store needs the \`${name}\` package: install ${name}: npm install ${name}`,
    {
      scope: kind,
      cause: err,
    },
  );
}

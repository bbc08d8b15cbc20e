/** What the demo's parent process and its instance processes say to each other over IPC. */

export type ClusterKind = 'shared' | 'sticky';

/** Where an instance keeps its sessions. */
export type InstanceStoreConfig =
  | { kind: 'dynamodb'; endpoint: string; tableName: string }
  | { kind: 'memory' };

/** Parent → instance, the first message after the fork. */
export interface InstanceConfig {
  type: 'config';
  name: string;
  cluster: ClusterKind;
  store: InstanceStoreConfig;
  secret: string;
  cookie: { name: string; path: string };
  /** Interface the instance listens on (a free port on it). */
  host: string;
}

/** Instance → parent, once its server listens. */
export interface InstanceReady {
  type: 'ready';
  port: number;
}

export function isInstanceConfig(message: unknown): message is InstanceConfig {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'config';
}

export function isInstanceReady(message: unknown): message is InstanceReady {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'ready' &&
    typeof (message as { port?: unknown }).port === 'number'
  );
}

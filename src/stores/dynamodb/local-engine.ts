/** A local DynamoDB engine started by `startLocalDynamo` (dynalite or DynamoDB Local). */
export interface LocalDynamo {
  /** `http://127.0.0.1:PORT`: pass it as `clientConfig.endpoint` (or the SDK's `endpoint`). */
  readonly endpoint: string;
  readonly port: number;
  /** Stops the server and closes the data files. Idempotent. */
  close(): Promise<void>;
  /**
   * Lets this process exit while the engine runs (it is then stopped as the process exits), for
   * an engine shared by a whole test process.
   */
  unref(): void;
}

/**
 * The credentials the lean path signs with: the SDK client's own credential provider (the default
 * chain or the user's), asked again only when the identity it gave is within 5 minutes of its
 * expiry, the window in which the SDK's memoized provider fetches new ones. Between those times a
 * request gets the identity without a promise: signing then runs synchronously.
 */

/** An AWS credential identity, as the SDK's providers give it. */
export interface Identity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Asked again this long before `expiration`, as the SDK's memoized provider refreshes. */
export const REFRESH_BEFORE_MS = 300_000;

export class CredentialCache {
  readonly #provider: () => Promise<Identity>;
  #current: Identity | undefined;
  #pending: Promise<Identity> | undefined;

  constructor(provider: () => Promise<Identity>) {
    this.#provider = provider;
  }

  /** The identity, at once while it is fresh; else a promise of the provider's. */
  get(): Identity | Promise<Identity> {
    const current = this.#current;
    if (current !== undefined && !nearExpiry(current)) return current;
    return this.#refresh();
  }

  #refresh(): Promise<Identity> {
    // One provider call for every request that finds the identity stale at the same time.
    this.#pending ??= this.#provider().then(
      (identity) => {
        this.#current = identity;
        this.#pending = undefined;
        return identity;
      },
      (err: unknown) => {
        this.#pending = undefined;
        throw err;
      },
    );
    return this.#pending;
  }
}

function nearExpiry(identity: Identity): boolean {
  const expiration = identity.expiration;
  return expiration !== undefined && expiration.getTime() - Date.now() <= REFRESH_BEFORE_MS;
}

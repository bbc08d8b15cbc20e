/**
 * The data an application keeps in its sessions. Declare your keys for typed access in every adapter:
 * `declare module 'baton-session' { interface SessionData { userId: string; basket: string[] } }`.
 * (The package entry re-exports it; augmenting it through `'baton-session'` merges here.)
 */
// biome-ignore lint/suspicious/noEmptyInterface: applications augment it
export interface SessionData {}

/**
 * Fixtures the project's store tests share. The conformance suite itself is part of the package:
 * `storeConformance` from src/testing (`baton-session/testing`).
 */
export { newKey, sessionRecord as record } from '../../src/testing/index.js';

// The example store of docs/custom-store.md passes the suite, imported from the built package
// the way a store author imports it (examples/custom-store/test.ts registers it).
import '../../examples/custom-store/test.js';

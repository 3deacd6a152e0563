/**
 * Keys directories for tests: the demo parties plus the sandbox departments, which a hub on
 * sandboxes registers by itself at start-up (the demo parties of a fresh trust list name no department).
 */
import { sandboxDepartments } from './hub';

/** Pass to `createKeyStore` / `initKeys` / `runKeysInit` so the trust list holds the sandbox departments with their seal keys. */
export const WITH_DEPARTMENTS = Object.freeze({ departments: sandboxDepartments() });

import demo from './demo-policy.json';
import type { PolicyInput } from './policy';

/** The embedded default sharing policy: the purpose registry and the grants of the demo consumers (demo-policy.json). */
export const DEMO_POLICY: PolicyInput = demo as PolicyInput;

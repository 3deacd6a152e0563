/**
 * Masks. The values themselves are masked where they are resolved: an allowed decision carries
 * the policy's execution schema, whose sensitive fields mask themselves by schema type and field
 * when the caller's grants mask them (src/policy/masks.ts), whatever aliases, fragments or
 * directives the operation uses. This stage, after execution and before anything is sealed or
 * hashed, reports the masked paths in `extensions.masked`.
 */
import type { Flow, GatewayReply } from '../types';

export function maskStage(flow: Flow, reply: GatewayReply): void {
  const paths = flow.context?.maskedPaths;
  if (paths && paths.length > 0) reply.extensions = { ...reply.extensions, masked: paths.map((p) => p.join('.')) };
}

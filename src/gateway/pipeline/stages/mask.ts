/**
 * Masks, after execution and before anything is sealed or hashed: every value the caller's grants
 * mask is replaced in place (aliases honoured), and the masked paths are listed in
 * `extensions.masked`.
 */
import { applyMasks } from '../../../policy';
import type { Flow, GatewayReply } from '../types';

export function maskStage(flow: Flow, reply: GatewayReply): void {
  if (!flow.allowed) return;
  const masked = applyMasks(reply.data, flow.allowed);
  if (masked.length > 0) reply.extensions = { ...reply.extensions, masked: masked.map((p) => p.join('.')) };
}

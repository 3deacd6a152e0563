/**
 * Seals, after the masks: each record's seal, made when the record entered the hub, is cut down to
 * disclose exactly the fields the (masked) reply shows, so a seal never reveals more than the
 * reply it travels in.
 */
import { presentSeals } from '../../seals';
import type { Flow, GatewayReply } from '../types';

export function sealStage(flow: Flow, reply: GatewayReply): void {
  presentSeals(reply.data, flow.context?.seals);
}

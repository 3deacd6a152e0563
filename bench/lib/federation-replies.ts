/**
 * Row F (跨域通办): the single hub's question, and how its replies are compared with hub A's
 * before measuring. Pure functions.
 */
import { CROSS_CITY_QUERY } from '../../src/cli/demo-cross-city';

/** The single hub's question: the demo's `CROSS_CITY_QUERY`, with the seller asked of its own departments (`person` for `hezePerson`). */
export const SINGLE_HUB_QUERY = ((): string => {
  const local = CROSS_CITY_QUERY.replace('seller: hezePerson(', 'seller: person(');
  if (local === CROSS_CITY_QUERY) throw new Error('row F: the cross-city query no longer asks hezePerson: update SINGLE_HUB_QUERY');
  return local;
})();

/**
 * The `data` of a reply with what differs between the two hubs by construction left out: seals
 * (signed per request, by each city's department keys) and the seller's identity number (B's
 * policy masks it for A's hub).
 */
export function comparableData(reply: { data?: unknown }): unknown {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([k]) => k !== 'seal').map(([k, v]) => [k, strip(v)]));
  };
  const data = strip(reply.data) as { seller?: Record<string, unknown> | null } | undefined;
  if (data?.seller) delete data.seller.idNumber;
  return data;
}

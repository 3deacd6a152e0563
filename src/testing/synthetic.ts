/**
 * Synthetic identifiers for tests: well-formed (they pass the SDK's checks, check character
 * included) and belonging to nobody in particular.
 */
import { ConnectorDefinitionError, citizenIdCheckChar } from '../sdk';

const REGIONS = ['110101', '310104', '370811', '440305', '510107', '610113'];
const DAY_MS = 86_400_000;

/** `count` distinct citizen identity numbers 公民身份号码 (GB 11643), the same for the same seed. */
export function syntheticCitizenIds(count: number, seed = 1): string[] {
  if (!Number.isInteger(count) || count < 0 || count > 100_000) throw new ConnectorDefinitionError(`syntheticCitizenIds: count must be an integer from 0 to 100000, but got: ${String(count)}`);
  if (!Number.isInteger(seed) || seed < 0) throw new ConnectorDefinitionError(`syntheticCitizenIds: seed must be a non-negative integer, but got: ${String(seed)}`);
  const region = REGIONS[seed % REGIONS.length]!;
  const start = Date.UTC(1950, 0, 1) + (seed % 97) * DAY_MS;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    // One birth date per 1000 sequence numbers: distinct for every i.
    const birth = new Date(start + Math.floor(i / 1000) * DAY_MS * 3).toISOString().slice(0, 10).replaceAll('-', '');
    const first17 = `${region}${birth}${String(i % 1000).padStart(3, '0')}`;
    ids.push(first17 + citizenIdCheckChar(first17));
  }
  return ids;
}

/**
 * The housing fund's part of the graph lives in its folder as `schema.graphql`, like every
 * connector's: derived by the generic GraphQL connector from the subgraph's SDL (remote.graphql)
 * and the classification. It must be exactly what the module derives (run with
 * DATARUN_UPDATE_SDL=1 to rewrite it after changing either).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectorModule } from '../../../connectors/housing-fund';

const FILE = path.resolve(__dirname, '../../../connectors/housing-fund/schema.graphql');
const HEADER = '# 住房公积金: derived from remote.graphql and classification.json by the generic GraphQL connector.\n# Do not edit: DATARUN_UPDATE_SDL=1 npx jest test/unit/sdk/housing-fund-sdl.test.ts rewrites it.\n\n';

describe('connectors/housing-fund/schema.graphql', () => {
  it('is the SDL the module derives from the subgraph and the classification', async () => {
    const derived = await connectorModule.typeDefs(connectorModule.settings.parse({ url: 'http://127.0.0.1:1/graphql' }));
    if (process.env.DATARUN_UPDATE_SDL === '1') writeFileSync(FILE, HEADER + derived.trimEnd() + '\n');
    expect(readFileSync(FILE, 'utf8')).toBe(HEADER + derived.trimEnd() + '\n');
  });
});

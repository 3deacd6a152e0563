/**
 * The housing provident fund connector 住房公积金: the fund centre runs an Apollo Federation 2
 * subgraph, so the connector is the SDK's generic GraphQL connector, configured here with the
 * subgraph's SDL (remote.graphql, a snapshot) and how each of its fields is shared
 * (classification.json). It adds Person.providentFund, Enterprise.providentFundEmployer, the
 * root fields fundAccount and fundEmployer, and the sealed records FundAccount and FundEmployer.
 */
import path from 'node:path';
import { graphqlConnectorModule, sdlFile, type GraphqlConnectorModule } from '../../src/sdk';
import classification from './classification.json';

/** This folder (the build copies the SDL snapshot next to the compiled module). */
const FOLDER = __dirname;

/** The connector id, named in errors, the configuration, the trust list and the audit log. */
export const HOUSING_FUND_CONNECTOR_ID = 'housing-fund';

/** The housing provident fund connector module (settings: `connectors.housing-fund.url`, …). */
export const connectorModule: GraphqlConnectorModule = graphqlConnectorModule({
  id: HOUSING_FUND_CONNECTOR_ID,
  title: 'Housing provident fund 住房公积金',
  sdl: sdlFile(path.join(FOLDER, 'remote.graphql')),
  classification,
  sealed: ['FundAccount', 'FundEmployer'],
  cacheTtlSeconds: 300,
});

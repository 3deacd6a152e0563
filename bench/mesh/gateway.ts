/**
 * Baseline B3's server: the Hive Gateway runtime (`createGatewayRuntime`, what `hive-gateway
 * supergraph` runs) serving the supergraph Mesh Compose wrote, on a plain `node:http` server.
 *
 * Env: B3_SUPERGRAPH (path), B3_PORT (0). Prints `B3 ready at <url>`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';

const gateway = createGatewayRuntime({ supergraph: process.env.B3_SUPERGRAPH!, logging: 'error' });
const server = http.createServer(gateway);
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.B3_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`B3 ready at http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void Promise.resolve(gateway.dispose()).finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

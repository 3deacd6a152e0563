/**
 * The `node:http` front of the plain-Node baselines (B2, B2-S3): reads the GraphQL-over-HTTP body
 * the load generator sends every server, hands its `variables` to the service's own function and
 * answers `{ data }` (or 502 with the error), prints `<name> ready at <url> (event loop <url>)`,
 * and closes the departments' pools on SIGTERM.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DepartmentClients } from './department-clients';
import { serveEventLoopDelay } from './event-loop';

/** Serves `answer` on `port` (0: any free port) on loopback. */
export function servePlain(name: string, port: number, clients: DepartmentClients, answer: (variables: Record<string, unknown>) => Promise<unknown>): void {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          const { variables } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { variables?: Record<string, unknown> };
          if (!variables || typeof variables !== 'object') throw new Error('the body has no "variables" object');
          const text = JSON.stringify({ data: await answer(variables) });
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
        } catch (error) {
          const text = JSON.stringify({ errors: [{ message: error instanceof Error ? error.message : 'failed' }] });
          res.writeHead(502, { 'content-type': 'application/json' }).end(text);
        }
      })();
    });
  });
  server.keepAliveTimeout = 65_000;
  void serveEventLoopDelay().then((eventLoopUrl) => {
    server.listen(port, '127.0.0.1', () => {
      process.stdout.write(`${name} ready at http://127.0.0.1:${(server.address() as AddressInfo).port} (event loop ${eventLoopUrl})\n`);
    });
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void clients.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

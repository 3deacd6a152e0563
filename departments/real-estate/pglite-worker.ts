/**
 * The embedded engine: PGlite (PostgreSQL compiled to WebAssembly) served over the wire protocol
 * by pglite-socket, in a worker thread of its own.
 *
 * Why a worker: PGlite runs queries synchronously on the thread that owns it, so in the hub's
 * (or the test's) thread every query would stall that event loop; in a worker the department is a
 * separate server on the other core, as a real one would be. It also keeps PGlite's own dynamic
 * `import()` calls out of module sandboxes (Jest's) that do not support them.
 */
import { Worker } from 'node:worker_threads';
import type { LoadStep } from './tables';

/**
 * Most concurrent sockets pglite-socket accepts; past it, it answers "Too many connections" in
 * plain text, which no PostgreSQL client understands, so the limit is kept well above any pool.
 */
export const PGLITE_MAX_CONNECTIONS = 128;

/** A running embedded engine. */
export interface PgliteEngine {
  /** Port of the pglite-socket server on 127.0.0.1. */
  readonly port: number;
  /** Milliseconds to start PGlite, and to run the load statements. */
  readonly startMs: number;
  readonly loadMs: number;
  close(): Promise<void>;
}

/**
 * The worker's code, plain CommonJS JavaScript: it runs outside the TypeScript build (an `eval`
 * worker), so it cannot import this project's modules; it gets everything through workerData.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pgliteEntry);
const { PGLiteSocketServer } = require(workerData.socketEntry);
let db;
let server;
async function main() {
  const started = performance.now();
  const options = { relaxedDurability: true };
  if (workerData.dataDir) options.loadDataDir = new Blob([workerData.dataDir]);
  db = await PGlite.create(options);
  let dataDir;
  if (!workerData.dataDir) dataDir = await (await db.dumpDataDir('none')).arrayBuffer();
  const startMs = performance.now() - started;
  const loadStarted = performance.now();
  for (const step of workerData.steps) {
    if (step.params) await db.query(step.sql, step.params);
    else await db.exec(step.sql);
  }
  const loadMs = performance.now() - loadStarted;
  server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: workerData.maxConnections });
  await server.start();
  const port = Number(server.getServerConn().split(':').pop());
  parentPort.postMessage({ type: 'ready', port, startMs, loadMs, dataDir }, dataDir ? [dataDir] : []);
}
parentPort.on('message', async (message) => {
  if (message !== 'close') return;
  try {
    if (server) await server.stop();
    if (db) await db.close();
  } finally {
    parentPort.postMessage({ type: 'closed' });
    parentPort.close();
  }
});
main().catch((error) => parentPort.postMessage({ type: 'error', message: String((error && error.message) || error) }));
`;

/**
 * A fresh cluster's data directory, taken from the first engine of this process: initdb costs
 * about 2 s, loading this tarball about 0.3 s, so later sandboxes start much faster.
 */
let freshDataDir: ArrayBuffer | undefined;

type WorkerReply = { type: 'ready'; port: number; startMs: number; loadMs: number; dataDir?: ArrayBuffer } | { type: 'error'; message: string } | { type: 'closed' };

/** Starts PGlite in a worker, runs the load statements directly on it (no socket, so nothing is counted), then serves it. */
export async function startPgliteEngine(steps: readonly LoadStep[]): Promise<PgliteEngine> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      pgliteEntry: require.resolve('@electric-sql/pglite'),
      socketEntry: require.resolve('@electric-sql/pglite-socket'),
      dataDir: freshDataDir,
      steps,
      maxConnections: PGLITE_MAX_CONNECTIONS,
    },
  });
  const ready = await new Promise<Extract<WorkerReply, { type: 'ready' }>>((resolve, reject) => {
    const fail = (error: Error): void => reject(new Error(`the embedded PostgreSQL engine failed to start: ${error.message}`));
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`worker exited with code ${code}`)));
    worker.once('message', (reply: WorkerReply) => {
      if (reply.type === 'ready') resolve(reply);
      else fail(new Error(reply.type === 'error' ? reply.message : 'unexpected reply'));
    });
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  worker.removeAllListeners('exit');
  worker.removeAllListeners('error');
  // A crash after start surfaces to clients as dropped connections, like a real server's crash.
  worker.on('error', () => undefined);
  if (ready.dataDir && !freshDataDir) freshDataDir = ready.dataDir;

  let closing: Promise<void> | undefined;
  return {
    port: ready.port,
    startMs: ready.startMs,
    loadMs: ready.loadMs,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => void worker.terminate(), 5_000);
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        worker.once('message', () => void worker.terminate());
        worker.postMessage('close');
      })),
  };
}

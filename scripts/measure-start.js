// `npm run measure:start`: how long a newcomer waits. Measures (1) the embedded PostgreSQL engine
// (PGlite) starting alone in a fresh process, the floor of any start with the real-estate
// sandbox, and (2) `npm start` until the first signed property-transfer query succeeds (200
// seeded persons, a warm install: built, keys present), three times each, and prints the medians
// and their ratio. Run it on a quiet machine; it measures, it asserts nothing.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const RUNS = Number(process.env.MEASURE_RUNS ?? 3);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** PGlite alone: a fresh Node process that creates the engine, runs one statement and exits. */
function engineAlone() {
  const started = performance.now();
  const result = spawnSync(process.execPath, ['-e', "require('@electric-sql/pglite').PGlite.create().then((db) => db.query('select 1').then(() => db.close()))"], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('PGlite did not start');
  return performance.now() - started;
}

/** `npm start` until the first signed property-transfer query is answered and verified. */
async function startToFirstQuery(keysDir, auditDir) {
  const port = await freePort();
  const hub = `http://127.0.0.1:${port}`;
  const env = { ...process.env, DATARUN_PORT: String(port), DATARUN_KEYS_DIR: keysDir, DATARUN_AUDIT_DIR: auditDir, DATARUN_INSTANCE_ID: `measure-${port}`, DATARUN_LOG_LEVEL: 'warn' };
  const started = performance.now();
  const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['start', '--silent'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  try {
    await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no ready line in 180 s:\n${out}`)), 180_000);
      child.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('datarun hub ready at')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`npm start exited ${code}:\n${out}`)));
    });
    const query = spawnSync(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'query', '--example', 'property-transfer', '--hub', hub], { cwd: root, env, encoding: 'utf8' });
    if (query.status !== 0) throw new Error(`the first query failed (exit ${query.status}):\n${query.stderr}`);
    return performance.now() - started;
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  }
}

async function main() {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'datarun-measure-start-'));
  try {
    const keysDir = path.join(scratch, 'keys');
    // Warm: built (npm start builds only if a source changed) and keys present (made by a first start).
    await startToFirstQuery(keysDir, path.join(scratch, 'audit-warmup'));
    const engine = [];
    const start = [];
    for (let i = 0; i < RUNS; i++) {
      engine.push(engineAlone());
      start.push(await startToFirstQuery(keysDir, path.join(scratch, `audit-${i}`)));
    }
    const e = median(engine);
    const s = median(start);
    process.stdout.write(
      `embedded PostgreSQL engine (PGlite) alone: ${(e / 1000).toFixed(1)} s (median of ${RUNS}: ${engine.map((v) => (v / 1000).toFixed(1)).join(', ')})\n` +
        `npm start to the first signed property-transfer query: ${(s / 1000).toFixed(1)} s (median of ${RUNS}: ${start.map((v) => (v / 1000).toFixed(1)).join(', ')})\n` +
        `ratio: ${(s / e).toFixed(2)}× (target ≤ 2×)\n`,
    );
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

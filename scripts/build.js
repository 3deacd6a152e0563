// `npm run build`: compiles the sources (tsc), copies the static files, bundles the explorer, then
// stamps dist/ with the time the build started.
//
// `--if-stale` builds only when a source is newer than the stamp (`npm start`, `npm pack` and the
// tests that run dist/ use it): checking the sources' times takes milliseconds, a build tens of
// seconds. Builds of one checkout take turns (a lock folder, dist/.build-lock, holding the
// builder's pid): two at once would rewrite files the other has just written, or that a process
// is reading; the second one waits, then finds dist/ fresh and skips.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const DIST = path.join(root, 'dist');
/** Its time is the start of the last successful build. */
const STAMP = path.join(DIST, '.build-stamp');
const LOCK = path.join(DIST, '.build-lock');
/** What the build reads: a newer file here means dist/ is stale. */
const SOURCES = ['src', 'connectors', 'departments', 'schema', 'scripts/build.js', 'scripts/copy-assets.js', 'scripts/build-explorer.js', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
/** A build on a busy 2-core machine takes a few minutes; a lock held longer than this is an error. */
const LOCK_WAIT_MS = 15 * 60_000;

function newestIn(target) {
  let stat;
  try {
    stat = fs.statSync(target);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of fs.readdirSync(target)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    newest = Math.max(newest, newestIn(path.join(target, entry)));
  }
  return newest;
}

function stale() {
  let built = 0;
  try {
    built = fs.statSync(STAMP).mtimeMs;
  } catch {
    return true;
  }
  return Math.max(...SOURCES.map((s) => newestIn(path.join(root, s)))) >= built;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

/** Takes the lock, waiting while a live build holds it; a lock whose builder has died is taken over. */
function lock() {
  fs.mkdirSync(DIST, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, 'pid'), `${process.pid}\n`);
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(fs.readFileSync(path.join(LOCK, 'pid'), 'utf8'), 10);
    } catch {
      // Just created, its pid not written yet: wait for it.
    }
    if (Number.isInteger(owner) && !alive(owner)) {
      fs.rmSync(LOCK, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      process.stderr.write(`build: ${path.relative(root, LOCK)} is held by process ${owner} for more than ${LOCK_WAIT_MS / 60_000} minutes; remove it if no build runs\n`);
      process.exit(1);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
}

function build() {
  // A file saved during the build is newer than the stamp, and the next start builds again.
  const startedAt = new Date();
  const steps = [
    [require.resolve('typescript/bin/tsc'), ['-p', 'tsconfig.build.json']],
    [path.join(__dirname, 'copy-assets.js'), []],
    [path.join(__dirname, 'build-explorer.js'), []],
  ];
  for (const [script, args] of steps) {
    const result = spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) return result.status ?? 1;
  }
  fs.writeFileSync(STAMP, `${startedAt.toISOString()}\n`);
  fs.utimesSync(STAMP, startedAt, startedAt);
  return 0;
}

const ifStale = process.argv.includes('--if-stale');
lock();
let status = 0;
try {
  if (!ifStale || stale()) status = build();
} finally {
  fs.rmSync(LOCK, { recursive: true, force: true });
}
process.exit(status);

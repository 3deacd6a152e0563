// `npm start`: runs the hub from dist/, building it first only when a source changed since the
// last build (a build takes tens of seconds; checking the sources' times takes milliseconds).
// Anything after `npm start --` goes to `datarun serve`; `npm run demo` (start.js demo) runs `datarun demo`.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
/** Written by every successful build (scripts/build.js): its time is the build's start. */
const STAMP = path.join(root, 'dist', '.build-stamp');
/** What the build reads: a newer file here means dist/ is stale. */
const SOURCES = ['src', 'connectors', 'departments', 'schema', 'scripts/build.js', 'scripts/copy-assets.js', 'scripts/build-explorer.js', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

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

function built() {
  try {
    return fs.statSync(STAMP).mtimeMs;
  } catch {
    return 0;
  }
}

const sourcesChanged = Math.max(...SOURCES.map((s) => newestIn(path.join(root, s))));
if (sourcesChanged >= built()) {
  // The build (scripts/build.js) writes the stamp with the time it started.
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

// `npm run demo` runs the worked scenario instead of the hub (`datarun demo`), built the same way.
const args = process.argv.slice(2);
const command = args[0] === 'demo' ? args.shift() : 'serve';
process.argv = [process.argv[0], path.join(root, 'dist/src/cli/main.js'), command, ...args];
require(path.join(root, 'dist/src/cli/main.js'));

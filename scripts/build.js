// `npm run build`: compiles the sources (tsc), copies the static files, bundles the explorer, then
// stamps dist/ with the time the build started, so that `npm start` (scripts/start.js) skips the
// build while no source is newer than the stamp, whoever ran the last build.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
/** Read by scripts/start.js: its time is the start of the last successful build. */
const STAMP = path.join(root, 'dist', '.build-stamp');

// A file saved during the build is newer than the stamp, and the next start builds again.
const startedAt = new Date();
const steps = [
  [require.resolve('typescript/bin/tsc'), ['-p', 'tsconfig.build.json']],
  [path.join(__dirname, 'copy-assets.js'), []],
  [path.join(__dirname, 'build-explorer.js'), []],
];
for (const [script, args] of steps) {
  const result = spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
fs.writeFileSync(STAMP, `${startedAt.toISOString()}\n`);
fs.utimesSync(STAMP, startedAt, startedAt);

// `npm start`: runs the hub from dist/, building it first only when a source changed since the
// last build (scripts/build.js --if-stale). Anything after `npm start --` goes to `datarun serve`;
// `npm run demo` (start.js demo) runs `datarun demo`; `npm run demo:cross-city` runs `datarun demo cross-city`.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const built = spawnSync(process.execPath, [path.join(__dirname, 'build.js'), '--if-stale'], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

// `npm run demo` runs the worked scenario instead of the hub (`datarun demo`), built the same way.
const args = process.argv.slice(2);
const command = args[0] === 'demo' ? args.shift() : 'serve';
process.argv = [process.argv[0], path.join(root, 'dist/src/cli/main.js'), command, ...args];
require(path.join(root, 'dist/src/cli/main.js'));

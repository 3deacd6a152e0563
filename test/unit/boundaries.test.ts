/**
 * The architecture's import rules (DESIGN.md "Layout"): connectors use only the SDK, one module
 * owns each sensitive library, and nothing depends on the tests.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(path.join(root, dir))) return out;
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'generated') out.push(...sources(rel));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)[^'";]*?from\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** The project folder an import resolves to (`src/sdk`, `connectors/tax`…), or the package name. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec.startsWith('node:') ? spec : spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  const resolved = path.relative(root, path.resolve(root, path.dirname(file), spec));
  const parts = resolved.split(path.sep);
  return parts[0] === 'src' || parts[0] === 'connectors' || parts[0] === 'departments' ? parts.slice(0, 2).join('/') : parts[0]!;
}

const production = [...sources('src'), ...sources('connectors'), ...sources('departments')];

describe('import boundaries', () => {
  it('lets connectors import only the SDK, their own files and protocol libraries', () => {
    const allowedPackages = new Set(['dataloader', 'pg', 'undici', 'zod', 'fast-xml-parser', 'graphql']);
    const offending: string[] = [];
    for (const file of sources('connectors')) {
      const own = file.split(path.sep).slice(0, 2).join('/');
      for (const spec of importsOf(file)) {
        const t = target(file, spec);
        if (t === 'src/sdk' || t === own || t.startsWith('node:') || allowedPackages.has(t)) continue;
        offending.push(`${file} imports ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('keeps node-jose inside src/seal and ioredis inside src/state', () => {
    const owners: Record<string, string> = { 'node-jose': 'src/seal', ioredis: 'src/state' };
    const offending: string[] = [];
    for (const file of [...production, ...sources('test'), ...sources('bench')]) {
      for (const spec of importsOf(file)) {
        const owner = owners[target(file, spec)];
        if (owner && !file.startsWith(`${owner}${path.sep}`)) offending.push(`${file} imports ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('lets nothing outside test/ import the tests', () => {
    const offending = production.flatMap((file) => importsOf(file).filter((spec) => target(file, spec) === 'test').map((spec) => `${file} imports ${spec}`));
    expect(offending).toEqual([]);
  });

  it('keeps the SDK free of the hub’s other concerns', () => {
    const offending = sources('src/sdk').flatMap((file) =>
      importsOf(file)
        .filter((spec) => /^(src\/(?!sdk)|connectors|departments)/.test(target(file, spec)))
        .map((spec) => `${file} imports ${spec}`),
    );
    expect(offending).toEqual([]);
  });

  it('uses named exports only', () => {
    const offending = production.filter((file) => /(^|\n)\s*export\s+default\b/.test(readFileSync(path.join(root, file), 'utf8')));
    expect(offending).toEqual([]);
  });
});

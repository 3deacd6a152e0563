/**
 * The hub is composed from the connectors it finds: no file of `src/` (generated types aside)
 * names a department, imports a connector folder or a sandbox. A new department is one folder.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { sandboxNames } from '../../departments';
import { discoverConnectorModules } from '../../src/gateway';

const root = path.resolve(__dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return full.endsWith(path.join('src', 'sdk', 'generated')) ? [] : sourceFiles(full);
    return /\.(ts|js|html|json)$/.test(e.name) ? [full] : [];
  });
}

/** Where `id` appears as a department's name: alone (not inside a longer kebab word such as a consumer id), or quoted for a one-word id. */
function mentions(text: string, id: string): boolean {
  const escaped = id.replace(/[-]/g, '\\-');
  if (id.includes('-')) return new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`).test(text);
  return new RegExp(`(['"\`/])${escaped}\\1|connectors/${escaped}\\b|departments/${escaped}\\b`).test(text);
}

describe('no file under src/ names a department', () => {
  const ids = [...new Set([...discoverConnectorModules().map((f) => f.module.id), ...sandboxNames()])];
  const files = sourceFiles(path.join(root, 'src')).filter((f) => !f.endsWith('demo-policy.json'));

  it('finds the departments to look for', () => {
    expect(ids.length).toBeGreaterThanOrEqual(4);
  });

  it('by id, in code, strings or comments', () => {
    const found = files.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return ids.filter((id) => mentions(text, id)).map((id) => `${path.relative(root, file)}: ${id}`);
    });
    expect(found).toEqual([]);
  });

  it('by importing a connector or a sandbox folder', () => {
    const found = files.filter((file) => /from '(\.\.\/)+connectors\/|from '(\.\.\/)+departments\/[a-z-]+/.test(readFileSync(file, 'utf8'))).map((f) => path.relative(root, f));
    expect(found).toEqual([]);
  });

  it('the check itself catches a department named in a file', () => {
    expect(mentions("import x from '../../connectors/tax';", 'tax')).toBe(true);
    expect(mentions("const id = 'tax';", 'tax')).toBe(true);
    expect(mentions('the real-estate connector', 'real-estate')).toBe(true);
    expect(mentions('the real-estate-centre consumer', 'real-estate')).toBe(false);
    expect(mentions('a tax inspection', 'tax')).toBe(false);
  });
});

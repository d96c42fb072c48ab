import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The dependency rules the package tags stand for: contracts depend on nothing of ours, libraries
 * never on apps, and services never on each other (only the CLI hosts them).
 */
const root = join(import.meta.dirname, '..');
const workspaces = ['contracts', 'libs', 'apps', 'examples', 'tests', 'bench'];

interface Workspace {
  name: string;
  dir: string;
  tags: string[];
}

function packages(): Workspace[] {
  const found: Workspace[] = [];
  const visit = (dir: string) => {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; nx?: { tags?: string[] } };
      found.push({ name: manifest.name, dir, tags: manifest.nx?.tags ?? [] });
      return;
    } catch {
      // not a package: look one level down
    }
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory() && entry !== 'node_modules' && entry !== 'dist') visit(path);
    }
  };
  for (const workspace of workspaces) visit(join(root, workspace));
  return found;
}

/** What ships: test-only files (specs, and fixtures, which builds leave out) may start other services. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.includes('node_modules') && !file.startsWith('dist') && !file.endsWith('.spec.ts') && !file.endsWith('.fixture.ts'))
    .map((file) => join(dir, file));
}

const importsOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/from '(@mycelium\/[a-z-]+)'/g)].map((match) => match[1]!);

describe('architecture', () => {
  const all = packages();
  const byName = new Map(all.map((workspace) => [workspace.name, workspace]));
  const tag = (workspace: Workspace, prefix: string) => workspace.tags.find((t) => t.startsWith(prefix))?.slice(prefix.length);

  it('finds every package with its tags', () => {
    expect(all.length).toBeGreaterThanOrEqual(12);
    for (const workspace of all) expect(tag(workspace, 'type:'), workspace.name).toBeDefined();
  });

  it.each(all.map((workspace) => [workspace.name, workspace] as const))('%s imports only what its tags allow', (_name, workspace) => {
    const type = tag(workspace, 'type:');
    const violations: string[] = [];
    for (const file of sourceFiles(workspace.dir)) {
      for (const imported of importsOf(file)) {
        const target = byName.get(imported);
        if (!target || target === workspace) continue;
        const targetType = tag(target, 'type:');
        const allowed =
          type === 'tests' || type === 'bench'
            ? true
            : type === 'contracts'
              ? false
              : type === 'lib'
                ? targetType === 'contracts' || targetType === 'lib'
                : type === 'app'
                  ? targetType === 'contracts' || targetType === 'lib' || (tag(workspace, 'scope:') === 'cli' && targetType === 'app')
                  : false;
        if (!allowed) violations.push(`${relative(root, file)} imports ${imported}`);
      }
    }
    expect(violations).toEqual([]);
  });
});

/**
 * The layout rules of STYLE.md and docs/architecture.md, checked over the source tree:
 * no import cycle between libs through any alias, no app importing another app, no import of a
 * package's internal path, and every table named in SQL (or through its entity) only inside the lib
 * that owns it.
 * These read files as text; they run no code of the project.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

function sourceFiles(dir: string, includeTests = false): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'dist') walk(p);
      } else if (e.name.endsWith('.ts') && (includeTests || !/\.(spec|int-spec|e2e-spec)\.ts$/.test(e.name))) out.push(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/** Module specifiers of static imports, re-exports, `import()` and `require()`. */
export function importsOf(source: string): string[] {
  const specs: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(=])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const m of source.matchAll(re)) specs.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
  return specs;
}

const libOf = (file: string): string | null => /^libs\/([^/]+)\//.exec(path.relative(ROOT, file).split(path.sep).join('/'))?.[1] ?? null;
const appOf = (file: string): string | null => /^apps\/([^/]+)\//.exec(path.relative(ROOT, file).split(path.sep).join('/'))?.[1] ?? null;

/** Which lib an import lands in: through an alias (`@fleetguard/x`, `@fleetguard/x/nest`, `@fleetguard/x/testing`) or a relative path. */
function targetLib(fromFile: string, spec: string): string | null {
  const alias = /^@fleetguard\/([^/]+)/.exec(spec);
  if (alias) return alias[1];
  if (spec.startsWith('.')) return libOf(path.resolve(path.dirname(fromFile), spec));
  return null;
}

function libGraph(): Map<string, Map<string, string>> {
  const libs = new Set(fs.readdirSync(path.join(ROOT, 'libs')));
  const graph = new Map<string, Map<string, string>>();
  for (const lib of libs) {
    const edges = new Map<string, string>();
    // The runtime graph: specs and test helpers (`testing/`, which may build devices with the
    // device kit, itself built on the cores) are test scope.
    for (const file of sourceFiles(path.join(ROOT, 'libs', lib, 'src')).filter((f) => !f.split(path.sep).includes('testing'))) {
      for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
        const to = targetLib(file, spec);
        if (to && to !== lib && !edges.has(to)) edges.set(to, `${path.relative(ROOT, file)} imports ${spec}`);
      }
    }
    graph.set(lib, edges);
  }
  return graph;
}

/** Every cycle's first edge path found by depth-first search, as `a -> b -> a` lines with the import that makes each hop. */
export function cycles(graph: Map<string, Map<string, string>>): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const visit = (node: string, trail: string[]) => {
    for (const [next] of graph.get(node) ?? []) {
      const at = trail.indexOf(next);
      if (at >= 0) {
        const loop = [...trail.slice(at), next];
        const key = [...loop.slice(0, -1)].sort().join(',');
        if (!seen.has(key)) {
          seen.add(key);
          found.push(loop.join(' -> ') + '  (' + loop.slice(0, -1).map((n, i) => graph.get(n)!.get(loop[i + 1])).join('; ') + ')');
        }
      } else visit(next, [...trail, next]);
    }
  };
  for (const node of graph.keys()) visit(node, [node]);
  return found;
}

/** Tables and the one lib that owns each (docs/architecture.md): its repositories alone name it in SQL. */
export function tableOwners(): Map<string, string> {
  const owners = new Map<string, string>();
  const migrations = path.join(ROOT, 'libs', 'persistence', 'src', 'migrations');
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const section = text.split(/^## /m).find((s) => s.startsWith('Who owns which table')) ?? '';
  for (const m of section.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*`?([a-z-]+)`?\s*\|/gm)) owners.set(m[1], m[2]);
  // Every table a migration creates must have an owner in the document.
  for (const file of fs.readdirSync(migrations)) {
    for (const m of fs.readFileSync(path.join(migrations, file), 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?"?([a-z_]+)/g)) {
      if (!owners.has(m[1])) owners.set(m[1], '(no owner in docs/architecture.md)');
    }
  }
  return owners;
}

/**
 * The views an owner lib publishes for others to read (docs/architecture.md, "Views other libs
 * read"), each created by a migration. Any lib may read one; only its owner may write through it.
 */
export function viewOwners(): Map<string, string> {
  const owners = new Map<string, string>();
  const migrations = path.join(ROOT, 'libs', 'persistence', 'src', 'migrations');
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const section = text.split(/^## /m).find((s) => s.startsWith('Views other libs read')) ?? '';
  const listed = new Map<string, string>();
  for (const m of section.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*`?([a-z-]+)`?\s*\|/gm)) listed.set(m[1], m[2]);
  const created = new Set<string>();
  for (const file of fs.readdirSync(migrations)) {
    for (const m of fs.readFileSync(path.join(migrations, file), 'utf8').matchAll(/CREATE (?:OR REPLACE )?VIEW "?([a-z_]+)/g)) created.add(m[1]);
  }
  for (const v of created) owners.set(v, listed.get(v) ?? '(no owner in docs/architecture.md)');
  for (const v of listed.keys()) if (!created.has(v)) owners.set(v, '(listed in docs/architecture.md, created by no migration)');
  return owners;
}

/** What a file of `lib` names in SQL that is not its own: another lib's table (read or written), another lib's view written. */
export function foreignNames(lib: string, text: string, tables: Map<string, string>, views: Map<string, string>): string[] {
  const found: string[] = [];
  // SQL is written with upper-case keywords here; prose ("received from devices") is not SQL.
  for (const [table, owner] of tables) {
    if (owner !== lib && new RegExp(`\\b(FROM|INTO|UPDATE|JOIN|TABLE)\\s+"?${table}\\b`).test(text)) found.push(`names ${table} (owned by ${owner})`);
  }
  for (const [view, owner] of views) {
    if (owner !== lib && new RegExp(`\\b(INTO|UPDATE|DELETE\\s+FROM|TABLE)\\s+"?${view}\\b`).test(text)) found.push(`writes ${view} (a view of ${owner})`);
  }
  return found;
}

/** An import that goes around a lib's entry points: a deep alias, a `-core` alias, or a relative path into a lib from outside it. */
export function deepImportOf(fromFile: string, spec: string): boolean {
  const alias = /^@fleetguard\/([^/]+)(?:\/(.+))?$/.exec(spec);
  if (alias) return /-core$/.test(alias[1]) || (alias[2] !== undefined && alias[2] !== 'nest' && alias[2] !== 'testing');
  if (!spec.startsWith('.')) return false;
  const to = libOf(path.resolve(path.dirname(fromFile), spec));
  return to !== null && to !== libOf(fromFile);
}

function deepImports(dirs: string[]): string[] {
  const bad: string[] = [];
  for (const dir of dirs) {
    for (const file of sourceFiles(path.join(ROOT, dir), true)) {
      for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) if (deepImportOf(file, spec)) bad.push(`${path.relative(ROOT, file)} imports ${spec}`);
    }
  }
  return bad;
}

/** Another lib's TypeORM entities a file of `lib` imports (a repository over them would write that lib's table). */
export function foreignEntities(lib: string, text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]@fleetguard\/([a-z][a-z-]*)(?:\/[^'"]*)?['"]/g)) {
    if (m[2] === lib) continue;
    for (const name of m[1].split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0])) {
      if (/Entity$/.test(name)) found.push(`imports ${name} (an entity of ${m[2]})`);
    }
  }
  return found;
}

/** The names in the `exports: [...]` arrays of a Nest module file. */
export function moduleExports(source: string): string[] {
  return [...source.matchAll(/\bexports:\s*\[([^\]]*)\]/g)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean));
}

describe('architecture', () => {
  it('has no import cycle between libs, through any alias', () => {
    expect(cycles(libGraph())).toEqual([]);
  });

  it('the cycle finder finds a cycle (so the test above can fail)', () => {
    const g = new Map([
      ['a', new Map([['b', 'a.ts imports b']])],
      ['b', new Map([['a', 'b.ts imports a']])],
    ]);
    expect(cycles(g)).toEqual(['a -> b -> a  (a.ts imports b; b.ts imports a)']);
    expect(importsOf(`import { x } from '@fleetguard/hardening-core';\nexport * from "./y";\nconst z = require('node:fs');`)).toEqual(['@fleetguard/hardening-core', './y', 'node:fs']);
  });

  it('no app imports another app', () => {
    const apps = fs.readdirSync(path.join(ROOT, 'apps'));
    const bad: string[] = [];
    for (const app of apps) {
      for (const file of sourceFiles(path.join(ROOT, 'apps', app), true)) {
        for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
          if (!spec.startsWith('.')) continue;
          const to = appOf(path.resolve(path.dirname(file), spec));
          if (to && to !== app) bad.push(`${path.relative(ROOT, file)} imports ${spec}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("no import of a package's internal path", () => {
    const bad: string[] = [];
    for (const dir of ['apps', 'libs', 'bench', 'test']) {
      for (const file of sourceFiles(path.join(ROOT, dir), true)) {
        for (const spec of importsOf(fs.readFileSync(file, 'utf8'))) {
          if (spec.startsWith('.') || spec.startsWith('node:') || spec.startsWith('@fleetguard/')) continue;
          const parts = spec.split('/');
          const sub = parts.slice(spec.startsWith('@') ? 2 : 1);
          if (sub.some((s) => ['dist', 'lib', 'src', 'build', 'internal', 'cjs', 'esm'].includes(s))) bad.push(`${path.relative(ROOT, file)} imports ${spec}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("a lib's Nest module exports facades only: services, readers, guards, never a repository (queries stay the owner's)", () => {
    const bad: string[] = [];
    for (const lib of fs.readdirSync(path.join(ROOT, 'libs'))) {
      const dir = path.join(ROOT, 'libs', lib, 'src');
      if (!fs.existsSync(dir)) continue;
      for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.module.ts'))) {
        for (const name of moduleExports(fs.readFileSync(path.join(dir, file), 'utf8'))) if (/Repository$/.test(name)) bad.push(`libs/${lib}/src/${file} exports ${name}`);
      }
    }
    expect(bad).toEqual([]);
    expect(moduleExports(`@Module({ providers: [A], exports: [FooService, BarRepository] })`)).toEqual(['FooService', 'BarRepository']);
  });

  it('reaches a lib only through its entry points (@fleetguard/<lib>, /nest, /testing), never a deep path', () => {
    expect(deepImports(['apps', 'libs', 'bench', 'test'])).toEqual([]);
  });

  it('the entry-point check finds a deep alias, a -core alias and a relative path into a lib (so the test above can fail)', () => {
    const from = path.join(ROOT, 'test', 'x.e2e-spec.ts');
    expect(deepImportOf(from, '@fleetguard/pki/core/csr.check')).toBe(true);
    expect(deepImportOf(from, '@fleetguard/attestation-core')).toBe(true);
    expect(deepImportOf(from, '../libs/broker/src')).toBe(true);
    expect(deepImportOf(path.join(ROOT, 'libs', 'pki', 'src', 'nest', 'x.ts'), '../core/csr.check')).toBe(false);
    expect(deepImportOf(from, '@fleetguard/pki/nest')).toBe(false);
  });

  it('names each table in SQL (or by its entity) only inside the lib that owns it, and writes a view only in its owner', () => {
    const owners = tableOwners();
    const views = viewOwners();
    expect([...owners].filter(([, owner]) => owner.startsWith('('))).toEqual([]);
    expect([...views].filter(([, owner]) => owner.startsWith('('))).toEqual([]);
    expect([...views.keys()].filter((v) => owners.has(v))).toEqual([]);
    const bad: string[] = [];
    for (const file of sourceFiles(path.join(ROOT, 'libs'))) {
      const lib = libOf(file);
      if (!lib || lib === 'persistence') continue;
      const text = fs.readFileSync(file, 'utf8');
      for (const v of foreignNames(lib, text, owners, views)) bad.push(`${path.relative(ROOT, file)} ${v}`);
      for (const v of foreignEntities(lib, text)) bad.push(`${path.relative(ROOT, file)} ${v}`);
    }
    // Another lib's rows are read through its views or its exported readers, and written through its
    // statement parts or its repositories in the caller's transaction (docs/architecture.md).
    expect(bad).toEqual([]);
  });

  it('the ownership check finds a foreign table, a write through a foreign view and a foreign entity (so the test above can fail)', () => {
    const tables = new Map([['devices', 'fleet'], ['device_scores', 'hardening']]);
    const views = new Map([['device_directory', 'fleet']]);
    const sql = (s: string) => foreignNames('hardening', s, tables, views);
    expect(sql('SELECT id FROM device_directory d JOIN device_scores s ON s.device_id = d.id')).toEqual([]);
    expect(sql('SELECT id FROM devices WHERE status = $1')).toEqual(['names devices (owned by fleet)']);
    expect(sql('UPDATE device_directory SET status = $1')).toEqual(['writes device_directory (a view of fleet)']);
    expect(sql('DELETE FROM device_directory WHERE id = $1')).toEqual(['writes device_directory (a view of fleet)']);
    expect(foreignNames('fleet', 'UPDATE devices SET status = $1; UPDATE device_directory SET status = $1', tables, views)).toEqual([]);
    expect(foreignEntities('fleet', `import { CaService, CertificateEntity } from '@fleetguard/pki/nest';`)).toEqual(['imports CertificateEntity (an entity of pki)']);
    expect(foreignEntities('fleet', `import { DeviceEntity } from '../entities/device.entity';\nimport { type ProductEntity } from '@fleetguard/fleet';`)).toEqual([]);
  });
});

#!/usr/bin/env node
// Compiles apps/, libs/, bench/ and the test kit (test/support, which the benches share) to dist/ with swc (CommonJS), rewriting the @fleetguard/* path
// aliases to relative paths, and copies non-TS assets (catalog JSON, dashboard files).
// Type checking is separate (`npm run typecheck`), so the build stays fast.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist');
const roots = ['apps', 'libs', 'bench', 'test/support'];
const assetExt = new Set(['.json', '.html', '.css', '.js', '.svg', '.sql']);

function* walk(dir) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name === 'test') continue;
      yield* walk(p);
    } else yield p;
  }
}

const options = (file) => ({
  filename: file,
  sourceMaps: true,
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
    baseUrl: root,
    paths: {
      // The Nest layer's and the test helpers' entries (@fleetguard/<lib>/nest, /testing), one per
      // lib that has them: swc's matcher takes a pattern with a wildcard in the middle for a prefix match.
      ...Object.fromEntries(
        fs
          .readdirSync(path.join(root, 'libs'))
          .flatMap((lib) => ['nest', 'testing'].map((entry) => [lib, entry]))
          .filter(([lib, entry]) => fs.existsSync(path.join(root, 'libs', lib, 'src', entry, 'index.ts')))
          .map(([lib, entry]) => [`@fleetguard/${lib}/${entry}`, [`libs/${lib}/src/${entry}`]]),
      ),
      '@fleetguard/*': ['libs/*/src'],
    },
  },
  module: { type: 'commonjs' },
});

fs.rmSync(out, { recursive: true, force: true });
let n = 0;
for (const r of roots) {
  for (const file of walk(path.join(root, r))) {
    const rel = path.relative(root, file);
    if (file.endsWith('.spec.ts')) continue;
    if (file.endsWith('.ts') && !file.endsWith('.d.ts')) {
      const res = swc.transformFileSync(file, options(file));
      const dest = path.join(out, rel.replace(/\.ts$/, '.js'));
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, res.code + `\n//# sourceMappingURL=${path.basename(dest)}.map\n`);
      if (res.map) fs.writeFileSync(dest + '.map', res.map);
      n++;
    } else if (assetExt.has(path.extname(file))) {
      const dest = path.join(out, rel);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(file, dest);
    }
  }
}
process.stdout.write(`build: ${n} files compiled to dist/\n`);

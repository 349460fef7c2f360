// Builds the dashboard into dist/web/: one ES module bundle (Preact, Cytoscape and the views), one
// stylesheet, index.html. Everything the page loads is in that directory, so `cordon serve` works
// with no network. `node web/build.mjs` (make build runs it after tsc); --watch rebuilds on change.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'web');
const watch = process.argv.includes('--watch');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));

const options = {
  // main.tsx imports app.css, so esbuild writes app.css beside app.js.
  entryPoints: { app: join(here, 'src', 'main.tsx') },
  outdir: out,
  entryNames: '[name]',
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: !watch,
  sourcemap: watch ? 'linked' : false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'linked',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`web: watching, writing ${out}`);
} else {
  await esbuild.build(options);
}

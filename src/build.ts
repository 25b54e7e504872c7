/**
 * Builds dist/ for `npm start`: the service compiled to plain JavaScript to run on node, and the
 * web chat bundled for the browser into dist/web/app, which the compiled server serves as is.
 *
 * Why not run the TypeScript through tsx, as development does: tsx keeps every function's name by
 * defining a `name` property on each closure as it is created, a property store on every closure
 * made on the hot path and memory held per subscription. esbuild transpiles the service file by
 * file (no bundling, so module paths and `import.meta.url` stay as in src/), without that.
 * Type checking is `npm run typecheck`'s job.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleWebChat } from './web/bundle.js';

const root = fileURLToPath(new URL('..', import.meta.url));
// The web chat's sources run in the browser, not on node: they go into its bundle only.
const BROWSER_ONLY = join('web', 'app') + sep;

rmSync(join(root, 'dist'), { recursive: true, force: true });
const serviceFiles = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.startsWith(BROWSER_ONLY))
  .map((f) => join('src', f));
await build({
  absWorkingDir: root,
  entryPoints: serviceFiles,
  outbase: 'src',
  outdir: 'dist',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});

const web = await bundleWebChat();
const webDir = join(root, 'dist', 'web', 'app');
mkdirSync(webDir, { recursive: true });
for (const [name, body] of web.files) writeFileSync(join(webDir, name), body);

/**
 * Compiles src/ to dist/ for `npm start`: the service then runs as plain JavaScript on node.
 *
 * Why not run the TypeScript through tsx, as development does: tsx keeps every function's name by
 * defining a `name` property on each closure as it is created. That costs a property store of
 * 256 bytes per closure, which for a service holding 10,000 subscriptions was a fifth of its memory
 * per socket, and a defineProperty on every closure made on the hot path. esbuild transpiles file
 * by file (no bundling, so module paths and `import.meta.url` stay as in src/), without that.
 * Type checking is `npm run typecheck`'s job.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

rmSync(`${root}/dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/**/*.ts'],
  outbase: 'src',
  outdir: 'dist',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});

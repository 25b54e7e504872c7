import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles the web chat (src/web/app, with the typed client from src/client) for the browser:
 * index.html, app.js and app.css with their source maps. `npm run build` writes them to
 * dist/web/app; the server run from TypeScript (`npm run dev`, the tests) bundles in memory.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WEB_APP_SOURCES = join(ROOT, 'src', 'web', 'app');

export type WebBundle = {
  /** File name -> contents. */
  files: Map<string, Uint8Array>;
  /** The source files it was made from (node_modules left out), for a rebuild when one changes. */
  inputs: string[];
};

export async function bundleWebChat(): Promise<WebBundle> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { app: join(WEB_APP_SOURCES, 'main.ts') },
    // Only names the output files: nothing is written here.
    outdir: join(ROOT, '.web-bundle'),
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const files = new Map<string, Uint8Array>();
  for (const file of result.outputFiles) files.set(basename(file.path), file.contents);
  const html = join(WEB_APP_SOURCES, 'index.html');
  files.set('index.html', await readFile(html));
  const inputs = [
    html,
    ...Object.keys(result.metafile.inputs)
      .filter((f) => !f.includes('node_modules'))
      .map((f) => resolve(ROOT, f)),
  ];
  return { files, inputs };
}

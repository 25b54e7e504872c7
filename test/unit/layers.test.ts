// What each layer loads at run time. Type-only imports are left out, as they are when the code
// runs: esbuild (which tsx and `npm run build` use) drops them the same way here.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** For each entry, the project files it loads at run time, itself included. */
async function loadedBy(entries: string[]): Promise<Map<string, { files: string[]; packages: string[] }>> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: entries,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outdir: 'out',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const loaded = new Map<string, { files: string[]; packages: string[] }>();
  for (const output of Object.values(result.metafile.outputs)) {
    if (!output.entryPoint) continue;
    const files = Object.keys(output.inputs);
    const packages = files.flatMap((file) => result.metafile.inputs[file]!.imports.filter((i) => i.external).map((i) => i.path));
    loaded.set(output.entryPoint, { files, packages });
  }
  return loaded;
}

describe('layers', () => {
  it('services, repositories and the rest of the modules load no schema types', async () => {
    // Everything in src/modules but the *.graphql.ts files, and the helpers they share.
    const entries = execFileSync('git', ['ls-files', 'src/modules/*.ts', 'src/lib/*.ts'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((file) => file && !file.endsWith('.graphql.ts'));
    expect(entries).toContain('src/lib/paging.ts');
    const loaded = await loadedBy(entries);
    const loadingSchema = entries.filter((entry) => {
      const { files, packages } = loaded.get(entry)!;
      return files.includes('src/graphql/builder.ts') || packages.some((p) => p.startsWith('@pothos/'));
    });
    expect(loadingSchema).toEqual([]);
  });
});

// src/ has no cycle of value imports: modules depend on each other in one direction (see
// src/services.ts), and a cycle would make one of them run before what it imports is defined.
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The value-import graph of src/: file -> the src/ files it imports at load time. esbuild drops
 * imports used only as types (`import type`, and names used only in types), as the compiled
 * service does (src/build.ts); a dynamic import() runs later and is no edge.
 */
async function valueImports(): Promise<Map<string, string[]>> {
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: ['src/**/*.ts'],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    outdir: 'out',
    logLevel: 'silent',
  });
  return graphOf(metafile);
}

function graphOf(metafile: Metafile): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, input] of Object.entries(metafile.inputs)) {
    if (!file.startsWith('src/')) continue;
    const loaded = input.imports.filter((i) => i.path.startsWith('src/') && (i.kind === 'import-statement' || i.kind === 'require-call'));
    graph.set(file, [...new Set(loaded.map((i) => i.path))]);
  }
  return graph;
}

/** Every cycle's files in import order, one cycle per strongly connected component (Tarjan). */
function cyclesOf(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (file: string) => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const to of graph.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file)!, index.get(to)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || graph.get(file)?.includes(file)) components.push(component);
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return components.map((component) => pathThrough(graph, new Set(component)));
}

/** One cycle through a component: from its first file back to it, by imports inside the component. */
function pathThrough(graph: Map<string, string[]>, component: Set<string>): string[] {
  const start = [...component].sort()[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const file = queue.shift()!;
    for (const to of graph.get(file) ?? []) {
      if (!component.has(to)) continue;
      if (to === start) {
        const path = [file];
        for (let at = file; at !== start; ) path.unshift((at = cameFrom.get(at)!));
        return [...path, start];
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, file);
        queue.push(to);
      }
    }
  }
  return [...component];
}

describe('value imports of src/', () => {
  it('form no cycle', async () => {
    const graph = await valueImports();
    // The graph is the whole of src/, entry points and modules alike.
    expect(graph.has('src/services.ts')).toBe(true);
    expect(graph.get('src/services.ts')).toContain('src/modules/messages/index.ts');
    expect(cyclesOf(graph).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('finds a cycle and names its files', () => {
    const graph = new Map([
      ['src/a.ts', ['src/b.ts']],
      ['src/b.ts', ['src/c.ts']],
      ['src/c.ts', ['src/a.ts', 'src/d.ts']],
      ['src/d.ts', []],
      ['src/e.ts', ['src/e.ts']],
    ]);
    expect(
      cyclesOf(graph)
        .map((cycle) => cycle.join(' -> '))
        .sort(),
    ).toEqual(['src/a.ts -> src/b.ts -> src/c.ts -> src/a.ts', 'src/e.ts -> src/e.ts']);
  });
});

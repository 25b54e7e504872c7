/**
 * Summarizes a V8 .cpuprofile (from `npm run bench -- --profile`):
 *   npx tsx test/bench/profile-summary.ts test/bench/results/profiles/<file>.cpuprofile [top=30]
 * Prints self time by function and by package / source folder, and inclusive time of the
 * project's own functions (src/..., or dist/... as the bench runs them), so a hot path can be named by file and function.
 * Line numbers are those of the file that ran: for dist/, the compiled JavaScript (source maps are not applied).
 */
import { readFileSync } from 'node:fs';

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
};
type Profile = { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx test/bench/profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from samples and time deltas (microseconds).
const self = new Map<number, number>();
for (const [i, id] of profile.samples.entries()) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const where = (url: string) => {
  if (!url) return '(native/internal)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  // The bench runs the compiled server (dist/), tests and tsx run src/.
  const src = Math.max(url.indexOf('/src/'), url.indexOf('/dist/'));
  if (src >= 0) return url.slice(src + 1);
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
};
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
const selfByFn = new Map<string, number>();
const selfByPkg = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  add(selfByFn, label(n), us);
  add(selfByPkg, where(n.callFrame.url), us);
}

// Inclusive time: a sample counts once per distinct frame (or package) on its stack.
const inclusive = new Map<string, number>();
const inclusiveAll = new Map<string, number>();
const inclusivePkg = new Map<string, number>();
for (const [id, us] of self) {
  const seen = new Set<string>();
  const seenPkg = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!;
    const k = label(n);
    const pkg = where(n.callFrame.url);
    if (!seenPkg.has(pkg)) {
      seenPkg.add(pkg);
      add(inclusivePkg, pkg, us);
    }
    if (seen.has(k)) continue;
    seen.add(k);
    add(inclusiveAll, k, us);
    if (/\/(src|dist)\//.test(n.callFrame.url)) add(inclusive, k, us);
  }
}

const print = (title: string, m: Map<string, number>, n = top) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
print('Self time by package / folder', selfByPkg, 25);
print('Self time by function', selfByFn);
print('Inclusive time by package / folder (anywhere on the stack)', inclusivePkg, 25);
print('Inclusive time by function', inclusiveAll, top);
print('Inclusive time of project functions (src/ or dist/)', inclusive, 25);

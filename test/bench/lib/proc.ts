import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RecordedStatement } from '../server-preload.js';
import { sleep } from './stats.js';

const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const REPO_DIR = dirname(dirname(BENCH_DIR));
export const RESULTS_DIR = join(BENCH_DIR, 'results');

/** Soft and hard "Max open files" of a process (default: this one). */
function fdLimits(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
  const num = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: num(soft), hard: num(hard) };
}

/**
 * Node cannot call setrlimit on itself, so raise this process's RLIMIT_NOFILE with prlimit(1)
 * (children inherit it). Asks for `want`; falls back to the hard limit when raising it is not allowed.
 */
export function raiseFdLimit(want: number): { before: { soft: number; hard: number }; after: { soft: number; hard: number }; note: string } {
  const before = fdLimits();
  if (before.soft >= want) return { before, after: before, note: 'already enough' };
  let nrOpen = Infinity;
  try {
    nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
  } catch {}
  const target = Math.min(want, nrOpen);
  let note = '';
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${Math.max(target, before.hard)}`], { stdio: 'ignore' });
    note = `prlimit raised to ${target}`;
  } catch {
    try {
      if (Number.isFinite(before.hard)) {
        execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`], { stdio: 'ignore' });
        note = `prlimit: soft raised to the hard limit ${before.hard}`;
      }
    } catch {
      note = 'prlimit unavailable: run `ulimit -n` higher before the bench';
    }
  }
  return { before, after: fdLimits(), note };
}

export function machineInfo() {
  const cpus = os.cpus();
  let pg = '';
  let redis = '';
  try {
    pg = execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-Atc', 'show server_version'], { encoding: 'utf8' }).trim();
  } catch {}
  try {
    redis = /redis_version:(\S+)/.exec(execFileSync('redis-cli', ['info', 'server'], { encoding: 'utf8' }))?.[1] ?? '';
  } catch {}
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    postgres: pg,
    redis,
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resident set size in KiB from /proc/<pid>/status (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU time of a process in milliseconds: user + system, plus its reaped children's with `children`. */
function cpuMs(pid: number, children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After pid and comm: f[11] utime, f[12] stime, f[13] cutime, f[14] cstime (clock ticks).
  const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
  return (ticks * 1000) / 100;
}

/**
 * Busy, stolen and total jiffies of the whole machine, from /proc/stat (iowait counts as idle).
 * Steal is time a virtual machine's CPUs were ready but the host ran something else: it is not
 * busy time of ours, and while it is high the same work takes longer by the wall clock.
 */
function machineCpu(): { busy: number; steal: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal };
}

/**
 * CPU milliseconds a fixed integer loop takes in this process: how fast a core of this virtual
 * machine runs right now. The same loop has taken from 102 to 198 ms on this machine within one
 * run, with the host's steal counter not moving (a neighbour on the same physical core, or the
 * clock), and every figure of a run moves with it. Run while the bench's own processes are idle.
 */
export function referenceLoopMs(): number {
  // Optimized first: before V8 has compiled spin() as a function (on-stack replacement is not
  // enough), the loop runs about ten times slower.
  for (let i = 0; i < 50; i++) spin(100_000);
  const start = process.cpuUsage();
  spin(REFERENCE_ITERATIONS);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** About 0.1 s of optimized loop on this machine when it runs fast. */
const REFERENCE_ITERATIONS = 400_000_000;
// biome-ignore lint/correctness/noUnusedVariables: written so the loop is not optimized away.
let sink = 0;
function spin(n: number) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i) | 0;
  // Kept, so the loop is not optimized away.
  sink ^= x;
}

/** Summed CPU of every process named `name`, counting the children they reaped (ended backends). */
export function groupCpuMs(name: string): number {
  let sum = 0;
  try {
    for (const pid of execFileSync('pgrep', ['-x', name], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      try {
        sum += cpuMs(Number(pid), true);
      } catch {}
    }
  } catch {}
  return sum;
}

/**
 * Measures CPU use over an interval: of the given processes, of the load workers (`workerPids`,
 * read at the start), of Postgres and Redis, and of the whole machine. Values are percent of one
 * core ("machine" sums all cores: 200 = two cores busy).
 */
export function cpuMeter(processes: Record<string, number | number[]>, workerPids: () => number[] = () => []) {
  const startAt = performance.now();
  const one = (pid: number) => {
    try {
      return cpuMs(pid);
    } catch {
      return NaN;
    }
  };
  // A group (a server's primary and workers) counts as one.
  const pids: Record<string, number[]> = { ...Object.fromEntries(Object.entries(processes).map(([k, v]) => [k, [v].flat()])), bench: [process.pid] };
  const safe = (group: number[]) => group.reduce((n, pid) => n + one(pid), 0);
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, safe(pid)]));
  const wPids = workerPids();
  const wStart = wPids.map(one);
  const pgStart = groupCpuMs('postgres');
  const redisStart = groupCpuMs('redis-server');
  const m0 = machineCpu();
  return () => {
    const wall = performance.now() - startAt;
    const pctOf = (msUsed: number) => Math.round((msUsed / wall) * 100);
    const m1 = machineCpu();
    const out: Record<string, number> = {};
    for (const [k, pid] of Object.entries(pids)) out[k] = pctOf(safe(pid) - start[k]!);
    if (wPids.length) out.loadWorkers = pctOf(wPids.reduce((n, pid, i) => n + (one(pid) - wStart[i]! || 0), 0));
    out.postgres = pctOf(groupCpuMs('postgres') - pgStart);
    out.redis = pctOf(groupCpuMs('redis-server') - redisStart);
    const share = (jiffies: number) => Math.round((jiffies / Math.max(1, m1.total - m0.total)) * 100 * os.cpus().length);
    out.machine = share(m1.busy - m0.busy);
    // What no process of the bench accounts for: other work on the machine (noise in the figures).
    out.other = Math.max(0, out.machine - Object.entries(out).reduce((n, [k, v]) => (k === 'machine' || !Number.isFinite(v) ? n : n + v), 0));
    // Not in `machine`: the host's, not ours.
    out.steal = share(m1.steal - m0.steal);
    out.wallMs = Math.round(wall);
    return out;
  };
}

export type ServerStats = {
  pg: { total: number; statements: Record<string, number> };
  redis: { total: number; commands: Record<string, number> };
};

export type ServerProcess = {
  name: string;
  pid: number;
  port: number;
  url: string;
  wsUrl: string;
  child: ChildProcess;
  /** The server's process and its workers (WORKERS > 1). */
  pids(): number[];
  /** Waits, runs full GCs in the server (bench preload) and answers its process.memoryUsage(). */
  settle(ms?: number): Promise<NodeJS.MemoryUsage | undefined>;
  /** Postgres statements and Redis calls the server sent since the previous call (bench preload). */
  stats(): Promise<ServerStats | undefined>;
  /** Writes a heap snapshot of the server to `file` (bench preload). */
  heapSnapshot(file: string): Promise<void>;
  /** Starts the CPU profiler inside the server (bench preload). */
  profileStart(): Promise<void>;
  /** The Postgres statements the server sends while `fn` runs, as sent (bench preload). */
  record(fn: () => Promise<unknown>): Promise<RecordedStatement[]>;
  /** Stops it and writes the .cpuprofile. */
  profileStop(file: string): Promise<void>;
  stop(): Promise<void>;
};

const BUILD_DIR = join(RESULTS_DIR, 'build');

/** Node's flags for the service, as `npm start` passes them (package.json is the one place they are set). */
const SERVICE_NODE_FLAGS = (() => {
  const start: string = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')).scripts.start;
  const flags = /\bnode ((?:--\S+ )*)dist\/main\.js/.exec(start);
  if (!flags) throw new Error(`package.json's start script does not run node [flags] dist/main.js: ${start}`);
  return flags[1]!.trim().split(' ').filter(Boolean);
})();

/**
 * Compiles what the bench runs as servers, once per run. The service runs as `npm start` runs it,
 * from dist/ (src/build.ts: plain JavaScript, no TypeScript loader); the bench preload, the bare
 * ws ceiling server and the Socket.IO reference server are compiled the same way, so every measured server is plain JavaScript.
 */
export async function compileServers(): Promise<void> {
  execFileSync(process.execPath, ['--import', 'tsx', 'src/build.ts'], { cwd: REPO_DIR, stdio: 'inherit' });
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(BENCH_DIR, 'server-preload.ts'), join(BENCH_DIR, 'workers', 'ws-ceiling-server.ts'), join(BENCH_DIR, 'workers', 'sio-server.ts')],
    outbase: BENCH_DIR,
    outdir: BUILD_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
}

/** The compiled form of a server script (see compileServers). */
export const compiled = {
  service: join(REPO_DIR, 'dist', 'main.js'),
  wsCeiling: join(BUILD_DIR, 'workers', 'ws-ceiling-server.mjs'),
  /** The Socket.IO reference (S1, X1). */
  socketIo: join(BUILD_DIR, 'workers', 'sio-server.mjs'),
};

/**
 * Starts a compiled server (see compileServers) as its own process, node directly so the pid is
 * the server's own, plus the bench preload, reached over an IPC channel, for GC and profiling.
 */
export async function startServerProcess(options: {
  name: string;
  env: Record<string, string>;
  logDir: string;
  script?: string;
  /** WORKERS for the service: more than 1 is that many worker processes under the one started here. */
  workers?: number;
}): Promise<ServerProcess> {
  const port = await freePort();
  mkdirSync(options.logDir, { recursive: true });
  const log = createWriteStream(join(options.logDir, `${options.name}.log`));
  const preload = join(BUILD_DIR, 'server-preload.mjs');
  const args = ['--expose-gc', ...(options.script ? [] : SERVICE_NODE_FLAGS), '--import', preload, options.script ?? compiled.service];
  const child = spawn(process.execPath, args, {
    cwd: REPO_DIR,
    env: { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  let exitInfo: string | undefined;
  child.on('exit', (code, signal) => (exitInfo = `exit ${code ?? signal}`));

  let next = 1;
  const pending = new Map<number, (m: { ok: boolean; result?: unknown; error?: string }) => void>();
  child.on('message', (m: { benchRpc?: number; ok: boolean; result?: unknown; error?: string }) => {
    const p = m.benchRpc !== undefined ? pending.get(m.benchRpc) : undefined;
    if (p) {
      pending.delete(m.benchRpc!);
      p(m);
    }
  });
  const call = <T>(cmd: string, extra: object = {}, timeoutMs = 30_000) =>
    new Promise<T | undefined>((resolve, reject) => {
      if (exitInfo || !child.connected) return resolve(undefined);
      const benchRpc = next++;
      const timer = setTimeout(() => {
        pending.delete(benchRpc);
        resolve(undefined);
      }, timeoutMs);
      pending.set(benchRpc, (m) => {
        clearTimeout(timer);
        if (m.ok) resolve(m.result as T);
        else reject(new Error(`${options.name} ${cmd}: ${m.error}`));
      });
      child.send({ benchRpc, cmd, ...extra });
    });

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitInfo) throw new Error(`${options.name} did not start (${exitInfo}); see ${join(options.logDir, `${options.name}.log`)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      // With workers, ready means every worker listens: connections opened earlier would all go
      // to the first one and, kept alive, stay there.
      if (res.ok && ((options.workers ?? 1) <= 1 || ((await call<number>('listening')) ?? 0) >= options.workers!)) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${options.name} did not become healthy in 60 s`);
    await sleep(150);
  }

  return {
    name: options.name,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    child,
    pids: () => {
      try {
        return [
          child.pid!,
          ...execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
            .split('\n')
            .filter(Boolean)
            .map(Number),
        ];
      } catch {
        return [child.pid!];
      }
    },
    settle: async (ms = 2_000) => {
      await sleep(ms / 2);
      const mem = await call<NodeJS.MemoryUsage>('gc');
      await sleep(ms / 2);
      return mem;
    },
    stats: () => call<ServerStats>('stats'),
    heapSnapshot: async (file) => void (await call('heapSnapshot', { file }, 300_000)),
    profileStart: async () => void (await call('profileStart')),
    record: async (fn) => {
      await call('recordStart');
      try {
        await fn();
      } catch (err) {
        await call('recordStop');
        throw err;
      }
      return (await call<RecordedStatement[]>('recordStop')) ?? [];
    },
    profileStop: async (file) => void (await call('profileStop', { file }, 120_000)),
    stop: async () => {
      if (exitInfo) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

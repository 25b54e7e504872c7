/**
 * Loaded into bench server processes with `--import` (the server code is not changed). Over the
 * IPC channel the bench opened, it answers:
 *   {cmd: 'gc'}            full garbage collections (needs --expose-gc), then process.memoryUsage()
 *   {cmd: 'profileStart'}  starts the V8 CPU profiler (node:inspector, this thread)
 *   {cmd: 'profileStop', file}  stops it and writes the .cpuprofile to `file`
 *   {cmd: 'stats'}         Postgres statements and Redis commands sent since the last 'stats'
 *   {cmd: 'heapSnapshot', file}  writes a V8 heap snapshot (bench --heap)
 *   {cmd: 'listening'}     how many workers listen (WORKERS > 1; counts in the primary only)
 *   {cmd: 'recordStart'}   from now on keeps each Postgres statement sent (text, name, values)
 *   {cmd: 'recordStop'}    stops and answers them: the pg ceilings replay the server's own SQL
 * so memory is read after a forced settle, each phase can be profiled on its own, and the
 * round trips a phase costs can be counted. The counters wrap pg.Client#query and
 * ioredis' sendCommand (the same module instances the server loads).
 */
import cluster from 'node:cluster';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { writeHeapSnapshot } from 'node:v8';
import { Redis } from 'ioredis';
import pg from 'pg';

type Command = {
  benchRpc: number;
  cmd: 'gc' | 'profileStart' | 'profileStop' | 'stats' | 'heapSnapshot' | 'listening' | 'recordStart' | 'recordStop';
  file?: string;
};

/** A statement as the server sent it (recordStart .. recordStop). */
export type RecordedStatement = { text: string; name?: string; values?: unknown[]; rowMode?: string };
let recording: RecordedStatement[] | undefined;

/** Workers listening, for a server with WORKERS > 1 (its primary forks them after this preload). */
let listeningWorkers = 0;
if (cluster.isPrimary) cluster.on('listening', () => listeningWorkers++);

const pgCounts = new Map<string, number>();
const redisCounts = new Map<string, number>();
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

// Counted where the bench asks: a server's own process. Workers of a WORKERS > 1 server are left
// as they run in production (the primary answers, with nothing counted).
if (cluster.isPrimary) {
  const clientProto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const originalQuery = clientProto.query;
  clientProto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as string | { text?: string } | undefined;
    const text = typeof q === 'string' ? q : q?.text;
    if (text) bump(pgCounts, text.slice(0, 200).replace(/\s+/g, ' ').slice(0, 90));
    // The webhook queue's own polling (pg-boss) is not part of any request.
    if (recording && text && !text.includes('pgboss')) {
      const config = typeof q === 'object' ? (q as { name?: string; values?: unknown[]; rowMode?: string }) : undefined;
      const values = config?.values ?? (Array.isArray(args[1]) ? (args[1] as unknown[]) : undefined);
      recording.push({ text, name: config?.name, values, rowMode: config?.rowMode });
    }
    return originalQuery.apply(this, args);
  };
  const redisProto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const originalSend = redisProto.sendCommand;
  redisProto.sendCommand = function (this: unknown, ...args: unknown[]) {
    const name = (args[0] as { name?: string } | undefined)?.name;
    if (name) bump(redisCounts, name);
    return originalSend.apply(this, args);
  };
}

function takeStats() {
  const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const out = { pg: { total: total(pgCounts), statements: sorted(pgCounts) }, redis: { total: total(redisCounts), commands: sorted(redisCounts) } };
  pgCounts.clear();
  redisCounts.clear();
  return out;
}

const gc = (globalThis as { gc?: () => void }).gc;
let session: Session | undefined;

const post = <T = unknown>(method: string, params?: object) =>
  new Promise<T>((resolve, reject) => session!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'gc': {
      gc?.();
      await new Promise((r) => setTimeout(r, 50));
      gc?.();
      return process.memoryUsage();
    }
    case 'profileStart': {
      if (!session) {
        session = new Session();
        session.connect();
      }
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
      return true;
    }
    case 'stats':
      return takeStats();
    case 'listening':
      return listeningWorkers;
    case 'recordStart':
      recording = [];
      return true;
    case 'recordStop': {
      const out = recording ?? [];
      recording = undefined;
      return out;
    }
    case 'heapSnapshot':
      gc?.();
      return writeHeapSnapshot(c.file);
    case 'profileStop': {
      const { profile } = await post<{ profile: unknown }>('Profiler.stop');
      if (c.file) writeFileSync(c.file, JSON.stringify(profile));
      return true;
    }
  }
}

// In a worker of a WORKERS > 1 server the channel is the primary's, not the bench's.
if (process.send && cluster.isPrimary) {
  process.on('message', (m: Command) => {
    if (!m || typeof m.benchRpc !== 'number') return;
    handle(m).then(
      (result) => process.send?.({ benchRpc: m.benchRpc, ok: true, result }),
      (err) => process.send?.({ benchRpc: m.benchRpc, ok: false, error: String(err) }),
    );
  });
  // The channel must not keep the process alive, nor stop it from exiting on SIGTERM.
  process.channel?.unref();
  // The bench went away (killed, crashed): shut down the way SIGTERM does, rather than linger.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

/**
 * `npm run bench [-- --quick] [-- --only=Q1,M1,M1T,TH1,RX1,S1,X1,P1,P2,WH1,SR1,C1] [-- --profile] [-- --heap] [-- --keep-heap]
 *   [-- --wait-quiet] [-- --keep-db]` (test/bench/README.md says what each does)
 *
 * Load test of the real service against Postgres and Redis. Everything runs as separate
 * processes: the server(s) (compiled, `node dist/main.js` as `npm start` runs it), the load workers (fork) and the
 * ceilings (pg-only workers, a bare ws broadcast server) and the Socket.IO reference (S1, X1). This process only orchestrates,
 * seeds, reads /proc, and prints. Results: test/bench/results/latest.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { mintToken } from '../../src/auth/jwt.js';
import { autoWorkers } from '../../src/config.js';
import { startRedisCluster } from '../kit/redis-cluster.js';
import type { ClosedResult } from './lib/closed-loop.js';
import { heapByConstructor, heapGrowth } from './lib/heap.js';
import { HttpClient, pool } from './lib/http.js';
import {
  compiled,
  compileServers,
  cpuMeter,
  groupCpuMs,
  machineInfo,
  RESULTS_DIR,
  raiseFdLimit,
  referenceLoopMs,
  rssKiB,
  type ServerProcess,
  type ServerStats,
  startServerProcess,
} from './lib/proc.js';
import {
  ADD_PARTICIPANT,
  ADD_REACTION,
  CREATE_CONVERSATION,
  CREATE_WEBHOOK,
  DELETE_WEBHOOK,
  SEARCH_MESSAGES,
  SEND_MESSAGE,
  WEBHOOK_PROBE,
} from './lib/queries.js';
import { callAll, Worker } from './lib/rpc.js';
import { fmt, fmtInt, type Summary, sleep, slope, summarize } from './lib/stats.js';
import type { RecordedStatement } from './server-preload.js';
import type { Loop, RateResult, StreamResult } from './workers/http-load.js';
import type { ReplayStatement } from './workers/pg-load.js';

// ---------------------------------------------------------------------------------------------
// Options and parameters

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const PROFILE = argv.includes('--profile');
/** C1: heap snapshots of the server at the first and last step, and what grew per socket (skews RSS). */
const HEAP = argv.includes('--heap') || argv.includes('--keep-heap');
const KEEP_HEAP = argv.includes('--keep-heap');
/** Waits (up to 10 min) until other processes use less than 25% of a core before starting. */
const WAIT_QUIET = argv.includes('--wait-quiet');
const KEEP_DB = argv.includes('--keep-db');
/** Every phase, in the order they run. */
const ALL_PHASES = ['Q1', 'M1', 'M1T', 'TH1', 'RX1', 'S1', 'X1', 'X1C', 'P1', 'P2', 'WH1', 'SR1', 'C1'];
const ONLY = new Set(
  (argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? ALL_PHASES.join(',')).split(',').map((s) => s.trim().toUpperCase()),
);

const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const P = QUICK
  ? {
      warmupMs: 1_000,
      durationMs: 4_000,
      ceilingWarmupMs: 1_000,
      ceilingDurationMs: 3_000,
      s1DurationMs: 3_000,
      s1CeilingDurationMs: 2_000,
      x1DurationMs: 3_000,
      c1Steps: [500, 1_000, 2_000],
      history: 60,
      sr1: { conversations: 100, perConversation: 1_000 },
      th1Conversations: 16,
      wh1: { rate: 200, durationMs: 5_000 },
      p1: { subs: 200, durationMs: 3_000 },
      p2: { agents: 20, durationMs: 3_000 },
    }
  : {
      warmupMs: 3_000,
      durationMs: 15_000,
      ceilingWarmupMs: 2_000,
      ceilingDurationMs: 10_000,
      s1DurationMs: 10_000,
      s1CeilingDurationMs: 6_000,
      x1DurationMs: 10_000,
      c1Steps: [1_000, 5_000, 10_000],
      history: 60,
      sr1: { conversations: 1_000, perConversation: 1_000 },
      th1Conversations: 32,
      wh1: { rate: 1_000, durationMs: 60_000 },
      p1: { subs: 1_000, durationMs: 15_000 },
      p2: { agents: 100, durationMs: 15_000 },
    };

/** Concurrency of Q1 and M1 (and of their ceilings): 32 keep-alive connections. */
const CONCURRENCY = 32;
/**
 * Load processes of the closed loops over HTTP: one carries 32 lean connections at Q1's rate with
 * 15% of a core (a second process cost 3-4% more of the cores the server shares).
 */
const HTTP_LOAD_WORKERS = 1;
/**
 * Load processes of the pg ceilings, which decode every row as the server does. Together they used
 * 80-83% of a core during the Q1 ceiling in the runs of 21 November 2026.
 */
const PG_LOAD_WORKERS = 2;
/** M1: this many of the 32 loops send to one hot conversation, the rest over 64 conversations. */
const M1_HOT_LOOPS = 8;
const M1_SPREAD_CONVERSATIONS = 64;
const Q1_CONVERSATIONS = 64;
/**
 * Postgres connections of each server (DATABASE_POOL_MAX; the WORKERS run shares them among its
 * workers), and of the pg ceilings. Sized for Postgres on this machine's cores, as the PostgreSQL
 * wiki's rule has it (about two per core): Postgres shares the cores with everything else here, and
 * each connection beyond what the cores can run at once is one more backend woken from idle per
 * statement. Measured on Q1 with one server process under wrk (16 connections), runs alternating between a pool of 3 and of 20: Postgres spent 0.21-0.27 ms of CPU per page with 3 and 0.28-0.30 ms with 20 (13-15% more in each pair), and the server served 5-25% more pages with 3 (the bench README has more).
 */
const POOL_MAX = 2 * os.availableParallelism();
/**
 * Q1 runs twice: on one process, as every other phase, and as the service is deployed on this
 * machine, WORKERS=auto (a worker per core): reading history is the phase one core cannot carry.
 * The workers share the same total of Postgres connections.
 */
const SCALE_WORKERS = autoWorkers();
/** S1 matrix: subscribers per conversation, and publish rates (msg/s) for each. */
const S1_MATRIX: { subs: number; rates: number[] }[] = [
  { subs: 1, rates: [10, 100] },
  { subs: 100, rates: [10, 100] },
  { subs: 1000, rates: [10, 20] },
];
const X1 = { subs: 100, rate: 100 };
/** Sockets held by one subscriber worker process at most. */
const SOCKETS_PER_WORKER = 2_000;

/** SR1: concurrent searchers, each a participant of every SR1 conversation; the query, in 1% of messages. */
const SR1_CLIENTS = 8;
const SR1_WORD = 'zephyr';
/** RX1: messages reacted to (each loop walks them, a new emoji every round), as many for the ceiling. */
const RX1_MESSAGES = 200;
const RX1_CONVERSATIONS = 8;
/** TH1: replies per thread (the history page and the thread page both hold the newest 50). */
const TH1_REPLIES = 60;
/** P1/P2: parts per second of each agent, and parts per streamed message before the next one starts. */
const P1_RATE = 50;
const P2_RATE = 20;
const STREAM_ROTATE = 300;

const TARGETS = {
  sr1P95Ms: 50,
  sr1VsCeiling: 0.5,
  rx1PerSec: 1_000,
  th1VsHistory: 0.8,
  m1tVsPlain: 0.9,
  wh1P99Ms: 1_000,
  wh1SendsVsPlain: 0.9,
  p1P99Ms: 50,
  p2P99Ms: 100,
  m1MsgPerSec: 2_000,
  q1ReqPerSec: 2_000,
  s1p99At100x100: 50,
  s1p99At1000x20: 100,
  c1KBPerSocket: 20,
  /** S1 at 100 x 100 and 1,000 x 20: Switchboard's server CPU per delivery and p99 against Socket.IO's, same run. */
  s1CpuVsSocketIo: 1.0,
  s1P99VsSocketIo: 1.25,
};

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: everything started here is stopped here, also on errors and Ctrl-C.

const servers: ServerProcess[] = [];
const workers = new Set<Worker>();
const cleanups: (() => Promise<void>)[] = [];

const workerPids = () => [...workers].map((w) => w.pid);
function worker(name: string, script: string): Worker {
  const w = new Worker(name, script);
  workers.add(w);
  return w;
}
async function stopWorkers(list: Iterable<Worker>) {
  await Promise.all(
    [...list].map(async (w) => {
      await w.stop();
      workers.delete(w);
    }),
  );
}
async function stopServer(s: ServerProcess) {
  await s.stop();
  servers.splice(servers.indexOf(s), 1);
}
let cleaningUp: Promise<void> | undefined;
const cleanup = () =>
  (cleaningUp ??= (async () => {
    await stopWorkers([...workers]).catch(() => {});
    await Promise.all(servers.map((s) => s.stop().catch(() => {})));
    for (const c of cleanups.reverse()) await c().catch((err) => console.error('cleanup:', err.message));
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const PROFILE_DIR = join(RESULTS_DIR, 'profiles');

const phaseStats: Record<string, Record<string, ServerStats | undefined>> = {};
/** CPU used by processes outside the bench during each measurement (percent of one core). */
const otherLoad: Record<string, number> = {};
/** CPU time the host took from this virtual machine per measurement (% of one core). */
const stealLoad: Record<string, number> = {};
/** referenceLoopMs() just before and just after each measurement: more is a slower machine. */
const referenceLoop: Record<string, [number, number]> = {};
/** "reference loop 130/150 ms" of a measurement, for its log line. */
const referenceText = (name: string) => `reference loop ${referenceLoop[name]!.map(fmtInt).join('/')} ms`;

/**
 * Runs one phase: counts the Postgres statements and Redis calls each server sends during it
 * (phaseStats[phase]) and, with --profile, CPU-profiles the servers (one file per phase and server).
 */
async function profiled<T>(phase: string, list: ServerProcess[], fn: () => Promise<T>): Promise<T> {
  await Promise.all(list.map((s) => s.stats()));
  if (PROFILE) await Promise.all(list.map((s) => s.profileStart()));
  try {
    return await fn();
  } finally {
    if (PROFILE) await Promise.all(list.map((s) => s.profileStop(join(PROFILE_DIR, `${phase}-${s.name}.cpuprofile`))));
    const stats = await Promise.all(list.map((s) => s.stats()));
    phaseStats[phase] = Object.fromEntries(list.map((s, i) => [s.name, stats[i]]));
  }
}

/** "pg 4.0/op, redis 3.0/op" for a phase, from phaseStats. */
function roundTrips(phase: string, ops: number): string {
  const st = Object.values(phaseStats[phase] ?? {}).filter((x): x is ServerStats => !!x);
  const pgN = st.reduce((n, x) => n + x.pg.total, 0);
  const redisN = st.reduce((n, x) => n + x.redis.total, 0);
  return `pg ${fmt(pgN / Math.max(1, ops), 2)}/op, redis ${fmt(redisN / Math.max(1, ops), 2)}/op (server side, ${ops} ops)`;
}

const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

// ---------------------------------------------------------------------------------------------
// Results

type Row = { id: string; metric: string; value: string; ceiling: string; ratio: string; target: string; status: string };
const rows: Row[] = [];
const targetResults: { target: string; pass: boolean; detail: string }[] = [];
const json: Record<string, unknown> = {};

function target(name: string, pass: boolean, detail: string) {
  targetResults.push({ target: name, pass, detail });
  return pass ? 'PASS' : 'FAIL';
}

const ms = (v: number) => `${fmt(v, v < 10 ? 2 : 1)} ms`;
const lat = (s: Summary) => `p50 ${ms(s.p50)} / p99 ${ms(s.p99)}`;

// ---------------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  mkdirSync(RESULTS_DIR, { recursive: true });
  await compileServers();
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const logDir = join(RESULTS_DIR, 'logs');
  rmSync(logDir, { recursive: true, force: true });
  if (PROFILE) {
    rmSync(PROFILE_DIR, { recursive: true, force: true });
    mkdirSync(PROFILE_DIR, { recursive: true });
  }

  const fd = raiseFdLimit(65_536);
  const machine = machineInfo();
  json.machine = machine;
  json.fdLimit = fd;
  json.mode = QUICK ? 'quick' : 'full';
  json.params = P;
  console.log(
    `Switchboard bench (${QUICK ? 'quick' : 'full'}) | ${machine.cores} cores ${machine.cpuModel} | ${machine.ramGiB} GiB RAM | ` +
      `node ${machine.node} | Postgres ${machine.postgres} | Redis ${machine.redis} | open files ${fd.after.soft}/${fd.after.hard} (${fd.note})`,
  );
  // Other processes on the machine (test runs, builds) share the cores: measure them first.
  const background = async () => {
    const m = cpuMeter({});
    await sleep(3_000);
    return m().other!;
  };
  let busy = await background();
  if (WAIT_QUIET) {
    const until = Date.now() + 10 * 60_000;
    while (busy > 25 && Date.now() < until) {
      log(`waiting for a quiet machine: background load ${busy}% of a core`);
      await sleep(10_000);
      busy = await background();
    }
  }
  json.backgroundLoadPercentOfCore = busy;
  json.referenceLoopMsAtStart = referenceLoopMs();
  console.log(`background load before start: ${busy}% of one core (other processes)${busy > 25 ? ' -- figures will be noisy' : ''}`);
  console.log(
    `reference loop: ${fmtInt(json.referenceLoopMsAtStart as number)} ms of CPU (lib/proc.ts referenceLoopMs; more is a slower machine, and it is measured again around each measurement)`,
  );
  if (machine.cores < 4) {
    console.log(`note: ${machine.cores} cores are shared by the server, Postgres, Redis and the load workers; absolute figures are machine-bound.`);
  }

  // -- database and server --------------------------------------------------------------------
  const dbName = `sb_bench_${runId}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const dbUrl = new URL(PG_ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const DATABASE_URL = dbUrl.toString();
  log(`database ${dbName}`);
  const org = `bench_${runId}`;
  cleanups.push(async () => {
    if (KEEP_DB) return log(`kept database ${dbName}`);
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await c.end();
    log(`dropped database ${dbName}`);
  });
  cleanups.push(() => cleanRedis(org));

  const secret = randomBytes(32).toString('hex');
  const serverEnv: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL,
    REDIS_URL,
    JWT_SECRET: secret,
    LOG_LEVEL: 'warn',
    DATABASE_POOL_MAX: String(POOL_MAX),
    // Limits that are (or will be) enforced: far above anything the bench does.
    RATE_LIMIT_USER_MESSAGES_PER_SEC: '1000000',
    RATE_LIMIT_USER_MESSAGES_BURST: '1000000',
    RATE_LIMIT_AGENT_MESSAGES_PER_SEC: '1000000',
    RATE_LIMIT_AGENT_MESSAGES_BURST: '1000000',
    RATE_LIMIT_USER_MUTATIONS_PER_SEC: '1000000',
    RATE_LIMIT_USER_MUTATIONS_BURST: '1000000',
    RATE_LIMIT_AGENT_MUTATIONS_PER_SEC: '1000000',
    RATE_LIMIT_AGENT_MUTATIONS_BURST: '1000000',
    // config.ts caps this at 10,000; the bench also uses one socket per user.
    MAX_SOCKETS_PER_USER: '10000',
    // WH1's receiver listens on 127.0.0.1 over http (docs/configuration.md).
    WEBHOOK_ALLOW_PRIVATE: 'true',
  };
  json.serverEnv = { ...serverEnv, JWT_SECRET: '(random)' };
  const start = async (name: string) => {
    const s = await startServerProcess({ name, env: serverEnv, logDir });
    servers.push(s);
    log(`${name} pid ${s.pid} on ${s.url}`);
    return s;
  };
  const A = await start('server-a');

  // -- tokens and seed ---------------------------------------------------------------------------
  const tokens = new Map<string, string>();
  const token = async (sub: string, kind: 'user' | 'agent' = 'user', roles?: string[]) => {
    let t = tokens.get(sub);
    if (!t) tokens.set(sub, (t = await mintToken(secret, { sub, name: `Bench ${sub}`, org, kind, roles, expiresIn: '6h' })));
    return t;
  };
  const http = new HttpClient(A.url, 32);
  cleanups.push(async () => http.close());
  const createGroup = async (owner: string, members: string[], ownerKind: 'user' | 'agent' = 'user') => {
    const first = members.slice(0, 99);
    const { createConversation } = await http.gql(await token(owner, ownerKind), CREATE_CONVERSATION, {
      input: { type: 'GROUP', name: `bench ${owner}`, participantIds: first },
    });
    const id = createConversation.id as string;
    await pool(members.slice(99), 16, async (u) => http.gql(await token(owner), ADD_PARTICIPANT, { c: id, u }));
    return id;
  };
  /** A send through the API; answers the message's id. */
  const send = async (sender: string, conversationId: string, content: string, extra: Record<string, unknown> = {}) =>
    (await http.gql(await token(sender), SEND_MESSAGE, { input: { conversationId, content, ...extra } })).sendMessage.id as string;
  const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

  const seedStart = Date.now();
  const qUsers = range('q', CONCURRENCY);
  const mUsers = range('m', CONCURRENCY);
  const sUsers = range('s', Math.max(...S1_MATRIX.map((c) => c.subs)));
  const cUsers = range('c', Math.max(...P.c1Steps));
  const seed: {
    q: string[];
    mSpread: string[];
    mHot: string;
    fan: Map<number, string>;
    c: string[];
    mtSpread: string[];
    mtHot: string;
    /** M1T: each conversation's thread root. */
    mtRoot: Map<string, string>;
    th: string[];
    thRoots: string[];
    rx: string[];
    rxMessages: string[];
    sr: string[];
    p1: string;
    p2: string[];
    wh: string[];
  } = {
    q: [],
    mSpread: [],
    mHot: '',
    fan: new Map(),
    c: [],
    mtSpread: [],
    mtHot: '',
    mtRoot: new Map(),
    th: [],
    thRoots: [],
    rx: [],
    rxMessages: [],
    sr: [],
    p1: '',
    p2: [],
    wh: [],
  };
  const mtUsers = range('mt', CONCURRENCY);
  const thUsers = range('th', CONCURRENCY);
  const rxUsers = range('rx', CONCURRENCY);
  /** RX1: the user whose one reaction is recorded for the ceiling. */
  const rxSample = 'rxs';
  const srUsers = range('sr', SR1_CLIENTS);
  const whUsers = range('wh', CONCURRENCY);
  const whAdmin = 'wh-admin';
  const p1Agent = 'agent-p1';
  const p2Agents = range('agent-p2-', P.p2.agents);
  const p2Subs = range('p2s', P.p2.agents);

  if (ONLY.has('Q1')) {
    seed.q = await pool(range('', Q1_CONVERSATIONS), 8, (_x, i) =>
      createGroup(
        qUsers[i % qUsers.length]!,
        qUsers.filter((_, j) => j !== i % qUsers.length),
      ),
    );
    // History: P.history messages per conversation from varied senders, so the page has many senders.
    const sends = seed.q.flatMap((c) => Array.from({ length: P.history }, (_, i) => ({ c, u: qUsers[(i * 7) % qUsers.length]! })));
    await pool(sends, 32, async ({ c, u }, i) =>
      http.gql(await token(u), SEND_MESSAGE, { input: { conversationId: c, content: `history message ${i} `.repeat(4) } }),
    );
  }
  if (ONLY.has('M1')) {
    seed.mSpread = await pool(range('', M1_SPREAD_CONVERSATIONS), 8, () => createGroup(mUsers[0]!, mUsers.slice(1)));
    seed.mHot = await createGroup(mUsers[0]!, mUsers.slice(1));
  }
  if (ONLY.has('S1') || ONLY.has('X1') || ONLY.has('X1C')) {
    for (const { subs } of S1_MATRIX) seed.fan.set(subs, await createGroup('pub', sUsers.slice(0, subs)));
    if (!seed.fan.has(X1.subs)) seed.fan.set(X1.subs, await createGroup('pub', sUsers.slice(0, X1.subs)));
  }
  if (ONLY.has('C1')) {
    const groups = Math.ceil(cUsers.length / 100);
    seed.c = await pool(range('', groups), 8, (_x, k) => createGroup(cUsers[k * 100]!, cUsers.slice(k * 100 + 1, k * 100 + 100)));
  }
  if (ONLY.has('M1T')) {
    // M1's layout, each conversation with a thread root to reply in.
    seed.mtSpread = await pool(range('', M1_SPREAD_CONVERSATIONS), 8, () => createGroup(mtUsers[0]!, mtUsers.slice(1)));
    seed.mtHot = await createGroup(mtUsers[0]!, mtUsers.slice(1));
    const all = [...seed.mtSpread, seed.mtHot];
    const roots = await pool(all, 16, (c) => send(mtUsers[0]!, c, 'a thread to reply in'));
    for (const [i, c] of all.entries()) seed.mtRoot.set(c, roots[i]!);
  }
  if (ONLY.has('TH1')) {
    // Q1's shape: every user in every conversation; a root and TH1_REPLIES replies in its thread, so
    // the history page and the thread page hold the same newest 50 messages.
    seed.th = await pool(range('', P.th1Conversations), 8, (_x, i) =>
      createGroup(
        thUsers[i % thUsers.length]!,
        thUsers.filter((_, j) => j !== i % thUsers.length),
      ),
    );
    seed.thRoots = await pool(seed.th, 16, (c, i) => send(thUsers[i % thUsers.length]!, c, `thread root ${i} `.repeat(4)));
    const replies = seed.th.flatMap((c, k) =>
      Array.from({ length: TH1_REPLIES }, (_, i) => ({ c, threadId: seed.thRoots[k]!, u: thUsers[(i * 7) % thUsers.length]! })),
    );
    await pool(replies, 32, ({ c, threadId, u }, i) => send(u, c, `history message ${i} `.repeat(4), { threadId }));
  }
  if (ONLY.has('RX1')) {
    seed.rx = await pool(range('', RX1_CONVERSATIONS), 8, (_x, i) => createGroup(rxUsers[i]!, [...rxUsers.filter((_, j) => j !== i), rxSample]));
    // The server's messages, the ceiling's as many, and one for the recorded sample.
    seed.rxMessages = await pool(range('', 2 * RX1_MESSAGES + 1), 32, (_x, i) =>
      send(rxUsers[i % rxUsers.length]!, seed.rx[i % RX1_CONVERSATIONS]!, `react to me ${i}`),
    );
  }
  if (ONLY.has('P1')) seed.p1 = await createGroup(p1Agent, sUsers.slice(0, P.p1.subs), 'agent');
  if (ONLY.has('P2')) seed.p2 = await pool(p2Agents, 8, (a, i) => createGroup(a, [p2Subs[i]!], 'agent'));
  if (ONLY.has('WH1')) seed.wh = await pool(range('', M1_SPREAD_CONVERSATIONS), 8, () => createGroup(whUsers[0]!, whUsers.slice(1)));

  // Tokens for every socket up front (minting is not part of any measurement).
  await pool(
    [
      ...qUsers,
      ...mUsers,
      ...sUsers,
      ...(ONLY.has('C1') ? cUsers : []),
      'pub',
      ...mtUsers,
      ...thUsers,
      ...rxUsers,
      rxSample,
      ...srUsers,
      ...whUsers,
      ...p2Subs,
    ],
    64,
    (u) => token(u),
  );
  await token(whAdmin, 'user', ['admin']);
  const db = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  cleanups.push(() => db.end());
  // Statistics and visibility maps, as autovacuum keeps them for any table that has grown. Without
  // statistics Postgres plans a fresh database's prepared statements on guesses (a history page
  // sorted in memory instead of read backwards from the (conversation, seq) index); without the
  // visibility map every index-only read of a sender also reads the table.
  await db.query('VACUUM ANALYZE');
  log(`seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

  /** Q1's load on a server with WORKERS=SCALE_WORKERS (the Postgres connections split between them). */
  const q1OnWorkers = async (loops: Loop[]) => {
    log(`Q1 with WORKERS=${SCALE_WORKERS}: the same load on ${SCALE_WORKERS} worker processes (not profiled, no round-trip counts)`);
    const W = await startServerProcess({
      name: 'server-workers',
      env: { ...serverEnv, WORKERS: String(SCALE_WORKERS), DATABASE_POOL_MAX: String(Math.ceil(POOL_MAX / SCALE_WORKERS)) },
      logDir,
      workers: SCALE_WORKERS,
    });
    servers.push(W);
    try {
      return await closedRun('q1-workers', W.url, loops, P.warmupMs, P.durationMs, { server: W.pids() });
    } finally {
      await stopServer(W);
    }
  };

  // -- Q1 ----------------------------------------------------------------------------------------
  if (ONLY.has('Q1')) {
    log('Q1: messages(last: 50) with sender fields, 32 connections');
    const loops: Loop[] = qUsers.map((u, i) => ({
      cls: 'q1',
      token: tokens.get(u)!,
      kind: 'query',
      // Each reader reads the conversations it takes part in (all of them here).
      conversations: seed.q.filter((_, j) => j % 2 === i % 2),
    }));
    const q1 = await profiled('Q1', [A], () => closedRun('q1', A.url, loops, P.warmupMs, P.durationMs, { server: A.pid }));
    log(`  round trips: ${roundTrips('Q1', q1.okTotal)}`);
    // On one core, WORKERS=auto is the one process just measured.
    const q1w = SCALE_WORKERS > 1 ? await q1OnWorkers(loops) : q1;
    log(`Q1 ceiling: the server's page statement (participant check and senders inside) straight through pg`);
    const q1c = await pgRun(
      'q1-pg',
      DATABASE_URL,
      'query',
      org,
      qUsers.map((u, i) => ({ cls: 'q1', userId: u, conversations: loops[i]!.conversations })),
    );
    const rps = q1w.rate.q1!;
    const ceil = q1c.rate.q1!;
    json.Q1 = { ...q1w.summary, workers: SCALE_WORKERS, oneProcess: q1.summary, ceiling: q1c.summary };
    rows.push({
      id: 'Q1',
      metric: `messages(last:50)+sender, ${CONCURRENCY} conns, WORKERS=${SCALE_WORKERS}`,
      value: `${fmtInt(rps)} req/s, ${lat(q1w.lat.q1!)}; server ${fmt(q1w.serverCpuMsPerOp, 2)} ms CPU/req`,
      ceiling: `${fmtInt(ceil)} req/s, ${lat(q1c.lat.q1!)} (pg, 1 statement)`,
      ratio: `${fmt((rps / ceil) * 100)}%`,
      target: `>= ${fmtInt(TARGETS.q1ReqPerSec)} req/s`,
      status: target(
        'Q1 >= 2,000 req/s',
        rps >= TARGETS.q1ReqPerSec && q1w.errors === 0,
        `${fmtInt(rps)} req/s with WORKERS=${SCALE_WORKERS}, ${q1w.errors} errors`,
      ),
    });
    if (SCALE_WORKERS > 1)
      rows.push({
        id: '',
        metric: '  one process (WORKERS=1)',
        value: `${fmtInt(q1.rate.q1!)} req/s, ${lat(q1.lat.q1!)}; server ${fmt(q1.serverCpuMsPerOp, 2)} ms CPU/req`,
        ceiling: '',
        ratio: `${fmt((q1.rate.q1! / ceil) * 100)}%`,
        target: '',
        status: q1.errors === 0 ? '' : `${q1.errors} errors`,
      });
  }

  // -- M1 ----------------------------------------------------------------------------------------
  if (ONLY.has('M1')) {
    log(`M1: sendMessage, ${CONCURRENCY} loops (${M1_HOT_LOOPS} on one hot conversation, the rest over ${M1_SPREAD_CONVERSATIONS})`);
    const convs = [...seed.mSpread, seed.mHot];
    const countMessages = async () =>
      Number((await db.query('SELECT count(*)::int AS n FROM messages WHERE conversation_id = ANY($1::uuid[])', [convs])).rows[0].n);
    const loopsFor = (i: number) => (i < M1_HOT_LOOPS ? { cls: 'hot', conversations: [seed.mHot] } : { cls: 'spread', conversations: seed.mSpread });
    const before = await countMessages();
    const m1 = await profiled('M1', [A], () =>
      closedRun(
        'm1',
        A.url,
        mUsers.map((u, i) => ({ ...loopsFor(i), token: tokens.get(u)!, kind: 'send' as const })),
        P.warmupMs,
        P.durationMs,
        { server: A.pid },
      ),
    );
    log(`  round trips: ${roundTrips('M1', m1.okTotal)}`);
    await sleep(200);
    const persisted = (await countMessages()) - before;
    const integrity = await seqIntegrity(db, convs);
    // Without group commit: the server may exceed it by storing concurrent sends together.
    log(`M1 ceiling: the server's send statement straight through pg, one message per statement`);
    const beforeCeil = await countMessages();
    const m1c = await pgRun(
      'm1-pg',
      DATABASE_URL,
      'insert',
      org,
      mUsers.map((u, i) => ({ ...loopsFor(i), userId: u })),
    );
    const persistedCeil = (await countMessages()) - beforeCeil;
    const integrityAfter = await seqIntegrity(db, convs);
    const msgs = m1.totalRate;
    const ceil = m1c.totalRate;
    const verified = persisted === m1.okTotal && integrity.bad === 0;
    const ceilingVerified = persistedCeil === m1c.okTotal && integrityAfter.bad === 0;
    log(`  ceiling: DB holds ${persistedCeil} of ${m1c.okTotal} acknowledged; seq gaps/dups in ${integrityAfter.bad} conversations`);
    json.M1 = {
      ...m1.summary,
      persisted,
      acknowledged: m1.okTotal,
      seqIntegrity: integrity,
      ceiling: { ...m1c.summary, persisted: persistedCeil, acknowledged: m1c.okTotal, seqIntegrityAfter: integrityAfter },
    };
    rows.push({
      id: 'M1',
      metric: `sendMessage, ${CONCURRENCY} conns (${M1_HOT_LOOPS} hot)`,
      value: `${fmtInt(msgs)} msg/s, ${lat(m1.latAll)}; server ${fmt(m1.serverCpuMsPerOp, 2)} ms CPU/msg`,
      ceiling: `${fmtInt(ceil)} msg/s, ${lat(m1c.latAll)} (pg, 1 msg/statement)`,
      ratio: `${fmt((msgs / ceil) * 100)}%`,
      target: `>= ${fmtInt(TARGETS.m1MsgPerSec)} msg/s`,
      status: target(
        'M1 >= 2,000 msg/s',
        msgs >= TARGETS.m1MsgPerSec && verified && m1.errors === 0,
        `${fmtInt(msgs)} msg/s; DB holds ${persisted} of ${m1.okTotal} acknowledged; seq gaps/dups in ${integrity.bad} conversations`,
      ),
    });
    rows.push({
      id: '',
      metric: '  hot conversation / spread',
      value: `hot ${fmtInt(m1.rate.hot!)} msg/s ${lat(m1.lat.hot!)}; spread ${fmtInt(m1.rate.spread!)} msg/s ${lat(m1.lat.spread!)}`,
      ceiling:
        `hot ${fmtInt(m1c.rate.hot!)} / spread ${fmtInt(m1c.rate.spread!)} msg/s; ` +
        (ceilingVerified ? `ok (${persistedCeil}/${m1c.okTotal})` : `MISMATCH ${persistedCeil}/${m1c.okTotal}, seq gaps in ${integrityAfter.bad}`),
      ratio: '',
      target: 'DB count = acks',
      status: verified ? `ok (${persisted}/${m1.okTotal})` : `MISMATCH ${persisted}/${m1.okTotal}`,
    });
  }

  // -- M1T ---------------------------------------------------------------------------------------
  if (ONLY.has('M1T')) {
    log(`M1T: M1's sends, plain and then each replying in a thread and mentioning a participant (same loops, same conversations)`);
    const convs = [...seed.mtSpread, seed.mtHot];
    const plainFor = (i: number) => (i < M1_HOT_LOOPS ? { cls: 'hot', conversations: [seed.mtHot] } : { cls: 'spread', conversations: seed.mtSpread });
    // Each loop mentions the next user; its target names the conversation, its root and who.
    const richFor = (i: number) => {
      const p = plainFor(i);
      const mention = mtUsers[(i + 1) % mtUsers.length]!;
      return { ...p, conversations: p.conversations.map((c) => `${c} ${seed.mtRoot.get(c)} ${mention}`) };
    };
    const count = async () => {
      const { rows: r } = await db.query(
        'SELECT count(*)::int AS n, count(*) FILTER (WHERE thread_id IS NOT NULL AND mention_ids IS NOT NULL)::int AS rich FROM messages WHERE conversation_id = ANY($1::uuid[])',
        [convs],
      );
      return r[0] as { n: number; rich: number };
    };
    const plain = await profiled('M1T-plain', [A], () =>
      closedRun(
        'm1t-plain',
        A.url,
        mtUsers.map((u, i) => ({ ...plainFor(i), token: tokens.get(u)!, kind: 'send' as const })),
        P.warmupMs,
        P.durationMs,
        { server: A.pid },
      ),
    );
    log(`  round trips: ${roundTrips('M1T-plain', plain.okTotal)}`);
    const before = await count();
    const rich = await profiled('M1T', [A], () =>
      closedRun(
        'm1t-rich',
        A.url,
        mtUsers.map((u, i) => ({ ...richFor(i), token: tokens.get(u)!, kind: 'sendRich' as const })),
        P.warmupMs,
        P.durationMs,
        {
          server: A.pid,
        },
      ),
    );
    log(`  round trips: ${roundTrips('M1T', rich.okTotal)}`);
    await sleep(200);
    const after = await count();
    const integrity = await seqIntegrity(db, convs);
    const stored = after.n - before.n;
    const storedRich = after.rich - before.rich;
    const verified = stored === rich.okTotal && storedRich === rich.okTotal && integrity.bad === 0;
    const ratio = rich.totalRate / plain.totalRate;
    json.M1T = { rich: rich.summary, plain: plain.summary, ratio, stored, storedRich, acknowledged: rich.okTotal, seqIntegrity: integrity };
    rows.push({
      id: 'M1T',
      metric: `send in a thread + 1 mention, ${CONCURRENCY} conns (${M1_HOT_LOOPS} hot)`,
      value: `${fmtInt(rich.totalRate)} msg/s, ${lat(rich.latAll)}; server ${fmt(rich.serverCpuMsPerOp, 2)} ms CPU/msg`,
      ceiling: `plain sends: ${fmtInt(plain.totalRate)} msg/s, ${lat(plain.latAll)}; ${fmt(plain.serverCpuMsPerOp, 2)} ms CPU/msg`,
      ratio: `${fmt(ratio * 100)}%`,
      target: `>= ${fmt(TARGETS.m1tVsPlain * 100, 0)}% of plain`,
      status: target(
        'M1T sends with thread + mention >= 90% of plain sends',
        ratio >= TARGETS.m1tVsPlain && verified && rich.errors === 0 && plain.errors === 0,
        `${fmtInt(rich.totalRate)} vs ${fmtInt(plain.totalRate)} msg/s; DB holds ${stored} (${storedRich} with thread and mention) of ${rich.okTotal} acknowledged; seq gaps/dups in ${integrity.bad} conversations`,
      ),
    });
  }

  // -- TH1 ---------------------------------------------------------------------------------------
  if (ONLY.has('TH1')) {
    log(`TH1: threadReplies(last: 50) against messages(last: 50) of the same conversations (the same 50 messages), ${CONCURRENCY} connections`);
    const loopsFor = (kind: 'query' | 'thread'): Loop[] =>
      thUsers.map((u, i) => ({
        cls: kind === 'query' ? 'history' : 'thread',
        token: tokens.get(u)!,
        kind,
        conversations: (kind === 'query' ? seed.th : seed.thRoots).filter((_, j) => j % 2 === i % 2),
      }));
    const history = await profiled('TH1-history', [A], () => closedRun('th1-history', A.url, loopsFor('query'), P.warmupMs, P.durationMs, { server: A.pid }));
    log(`  round trips: ${roundTrips('TH1-history', history.okTotal)}`);
    const thread = await profiled('TH1', [A], () => closedRun('th1-thread', A.url, loopsFor('thread'), P.warmupMs, P.durationMs, { server: A.pid }));
    log(`  round trips: ${roundTrips('TH1', thread.okTotal)}`);
    const ratio = thread.totalRate / history.totalRate;
    json.TH1 = { thread: thread.summary, history: history.summary, ratio };
    rows.push({
      id: 'TH1',
      metric: `threadReplies(last:50)+sender, ${CONCURRENCY} conns`,
      value: `${fmtInt(thread.totalRate)} req/s, ${lat(thread.latAll)}; server ${fmt(thread.serverCpuMsPerOp, 2)} ms CPU/req`,
      ceiling: `history page: ${fmtInt(history.totalRate)} req/s, ${lat(history.latAll)}; ${fmt(history.serverCpuMsPerOp, 2)} ms CPU/req`,
      ratio: `${fmt(ratio * 100)}%`,
      target: `>= ${fmt(TARGETS.th1VsHistory * 100, 0)}% of history`,
      status: target(
        'TH1 thread page within 20% of a history page',
        ratio >= TARGETS.th1VsHistory && thread.errors === 0 && history.errors === 0,
        `${fmtInt(thread.totalRate)} vs ${fmtInt(history.totalRate)} req/s; ${thread.errors + history.errors} errors`,
      ),
    });
  }

  // -- RX1 ---------------------------------------------------------------------------------------
  if (ONLY.has('RX1')) {
    log(`RX1: addReaction, ${CONCURRENCY} loops over ${RX1_MESSAGES} messages in ${RX1_CONVERSATIONS} conversations, every reaction a new one`);
    const mine = seed.rxMessages.slice(0, RX1_MESSAGES);
    const theirs = seed.rxMessages.slice(RX1_MESSAGES, 2 * RX1_MESSAGES);
    const sample = seed.rxMessages[2 * RX1_MESSAGES]!;
    // Each loop starts elsewhere in the list, so the loops do not queue on one message's row lock.
    const rotate = (list: string[], i: number) => {
      const k = (i * Math.floor(list.length / CONCURRENCY)) % list.length;
      return [...list.slice(k), ...list.slice(0, k)];
    };
    const reactions = async (ids: string[]) =>
      Number((await db.query('SELECT count(*)::int AS n FROM message_reactions WHERE message_id = ANY($1::uuid[])', [ids])).rows[0].n);
    const rx = await profiled('RX1', [A], () =>
      closedRun(
        'rx1',
        A.url,
        rxUsers.map((u, i) => ({ cls: 'rx1', token: tokens.get(u)!, kind: 'react' as const, conversations: rotate(mine, i) })),
        P.warmupMs,
        P.durationMs,
        { server: A.pid },
      ),
    );
    log(`  round trips: ${roundTrips('RX1', rx.okTotal)}`);
    const stored = await reactions(mine);
    const emoji = ':sample:';
    // The sample user's first request also stores the user: one request before, so the recording
    // holds what every addReaction sends.
    await http.gql(tokens.get(rxSample)!, ADD_REACTION, { m: sample, e: ':warmup:' });
    const recorded = await A.record(() => http.gql(tokens.get(rxSample)!, ADD_REACTION, { m: sample, e: emoji }));
    log(`RX1 ceiling: the statements one addReaction sent (recorded: ${describeStatements(recorded)}) straight through pg`);
    const statements = replayable(recorded, { user: rxSample, target: sample, emoji });
    for (const st of statements) if (/insert into "message_reactions"/i.test(st.text)) st.mustReturnRows = true;
    const rxc = await pgRun(
      'rx1-pg',
      DATABASE_URL,
      'replay',
      org,
      rxUsers.map((u, i) => ({ cls: 'rx1', userId: u, conversations: rotate(theirs, i) })),
      { statements, sequence: true },
    );
    const storedCeil = await reactions(theirs);
    const verified = stored === rx.okTotal;
    json.RX1 = {
      ...rx.summary,
      stored,
      acknowledged: rx.okTotal,
      recorded: recorded.map((st) => st.text),
      ceiling: { ...rxc.summary, stored: storedCeil, acknowledged: rxc.okTotal },
    };
    rows.push({
      id: 'RX1',
      metric: `addReaction, ${CONCURRENCY} conns, each a new reaction`,
      value: `${fmtInt(rx.totalRate)} /s, ${lat(rx.latAll)}; server ${fmt(rx.serverCpuMsPerOp, 2)} ms CPU/op`,
      ceiling: `${fmtInt(rxc.totalRate)} /s, ${lat(rxc.latAll)} (pg, its ${recorded.length} statements)`,
      ratio: `${fmt((rx.totalRate / rxc.totalRate) * 100)}%`,
      target: `>= ${fmtInt(TARGETS.rx1PerSec)}/s`,
      status: target(
        'RX1 addReaction >= 1,000/s',
        rx.totalRate >= TARGETS.rx1PerSec && verified && rx.errors === 0,
        `${fmtInt(rx.totalRate)}/s; DB holds ${stored} of ${rx.okTotal} acknowledged reactions (ceiling ${storedCeil} of ${rxc.okTotal})`,
      ),
    });
  }

  // -- Socket.IO reference (S1, X1) ----------------------------------------------------------------
  /** The Socket.IO reference server on the bench database (its own tables) and Redis, its adapter keys the run's own. */
  const startSocketIo = async (name: string) => {
    const s = await startServerProcess({
      name,
      env: { DATABASE_URL, REDIS_URL, DATABASE_POOL_MAX: String(POOL_MAX), SIO_KEY: `sio-bench-${runId}` },
      logDir,
      script: compiled.socketIo,
    });
    servers.push(s);
    return s;
  };
  /** X1 on Socket.IO: two processes on the same Redis, the publisher's POSTs on A, the sockets on B. */
  const socketIoX1 = async (subs: number) => {
    const sa = await startSocketIo('sio-a');
    const sb = await startSocketIo('sio-b');
    const room = `sio-x1-${runId}`;
    const fan = await openSubscribers(
      'x1s',
      'sio',
      `http://127.0.0.1:${sb.port}`,
      range('', subs).map(() => ({ token: '', conversationId: room })),
      1,
    );
    const url = `http://127.0.0.1:${sa.port}/publish`;
    await waitLive(fan, publisher!, url, [{ conversationId: room, token: '' }], true);
    log(`X1 Socket.IO: publish on A, ${subs} sockets on B, ${X1.rate} msg/s`);
    try {
      return await fanRun(
        fan,
        publisher!,
        { url, token: '', conversationId: room, rate: X1.rate, durationMs: P.x1DurationMs, raw: true, label: `sio-${subs}x${X1.rate}-x1` },
        subs,
        { a: sa.pid, b: sb.pid },
      );
    } finally {
      await callAll(fan, 'closeAll');
      await stopWorkers(fan);
      await stopServer(sa);
      await stopServer(sb);
    }
  };
  /**
   * The row under a Switchboard fan-out row: Socket.IO's figures and Switchboard's ratio to them
   * (CPU per delivery only with many deliveries per send); on the target cells, two targets.
   */
  const socketIoRow = (name: string, r: FanResult, s: FanResult, withCpu: boolean, isTarget: boolean) => {
    const p99x = r.lat.p99 / s.lat.p99;
    const cpux = r.cpuUsPerDelivery / s.cpuUsPerDelivery;
    // The comparison holds when the reference delivered everything; out of order (its sends complete
    // in any order on its pool) is reported, not held against Switchboard.
    const sComplete = s.ratio === 1 && s.publishFailures === 0;
    const inOrder = s.dups === 0 && s.gaps === 0;
    const checks = `${fmt(s.ratio * 100, 2)}% delivered${inOrder ? '' : `, OUT OF ORDER: ${s.gaps} gaps, ${s.dups} dups`}${s.publishFailures ? `, ${s.publishFailures} SENDS FAILED` : ''}`;
    rows.push({
      id: '',
      metric: '  vs Socket.IO 4 + redis-adapter',
      value: `SIO ${lat(s.lat)}; ${checks}${withCpu ? `; ${fmtInt(s.cpuUsPerDelivery)} us CPU/deliv` : ''}; pg ${fmt(s.pgCpuMsPerSend, 2)} ms CPU/send (SB ${fmt(r.pgCpuMsPerSend, 2)})`,
      ceiling: '(reference, not a ceiling)',
      ratio: `SB/SIO: p99 x${fmt(p99x)}${withCpu ? `, CPU x${fmt(cpux)}` : ''}, pg x${fmt(r.pgCpuMsPerSend / s.pgCpuMsPerSend)}`,
      target: isTarget ? `CPU <= ${fmt(TARGETS.s1CpuVsSocketIo, 2)}x, p99 <= ${fmt(TARGETS.s1P99VsSocketIo, 2)}x` : '',
      status: isTarget
        ? [
            target(
              `${name}: CPU/delivery <= ${fmt(TARGETS.s1CpuVsSocketIo, 2)}x Socket.IO's`,
              cpux <= TARGETS.s1CpuVsSocketIo && sComplete,
              `${fmtInt(r.cpuUsPerDelivery)} vs ${fmtInt(s.cpuUsPerDelivery)} us (x${fmt(cpux, 2)}); Socket.IO ${checks}`,
            ),
            target(
              `${name}: p99 <= ${fmt(TARGETS.s1P99VsSocketIo, 2)}x Socket.IO's`,
              p99x <= TARGETS.s1P99VsSocketIo && sComplete,
              `${ms(r.lat.p99)} vs ${ms(s.lat.p99)} (x${fmt(p99x, 2)})`,
            ),
          ].join('/')
        : !sComplete
          ? 'SIO incomplete'
          : inOrder
            ? 'info'
            : 'SIO reorders',
    });
  };

  // -- S1 ----------------------------------------------------------------------------------------
  const publisher = ONLY.has('S1') || ONLY.has('X1') || ONLY.has('X1C') ? worker('publisher', 'http-load.ts') : undefined;
  const s1Results: Record<string, unknown>[] = [];
  let sameInstance100: FanResult | undefined;
  let minimalCell: FanResult | undefined;
  if (ONLY.has('S1')) {
    const ceilingServer = await startServerProcess({ name: 'ws-ceiling', env: {}, logDir, script: compiled.wsCeiling });
    servers.push(ceilingServer);
    const sioServer = await startSocketIo('sio');
    for (const { subs, rates } of S1_MATRIX) {
      const conv = seed.fan.get(subs)!;
      const targets = await Promise.all(sUsers.slice(0, subs).map(async (u) => ({ token: await token(u), conversationId: conv })));
      const real: FanResult[] = [];
      {
        const fan = await openSubscribers(`s1-${subs}`, 'graphql', A.wsUrl, targets, Math.min(4, Math.ceil(subs / 250)));
        await waitLive(fan, publisher!, A.url, [{ conversationId: conv, token: await token('pub') }]);
        for (const rate of rates) {
          log(`S1: ${subs} subscriber(s) at ${rate} msg/s`);
          const pubToken = await token('pub');
          const r = await profiled(`S1-${subs}x${rate}`, [A], () =>
            fanRun(fan, publisher!, { url: A.url, token: pubToken, conversationId: conv, rate, durationMs: P.s1DurationMs }, subs, { server: A.pid }),
          );
          log(`  round trips per published message: ${roundTrips(`S1-${subs}x${rate}`, r.published)}`);
          real.push(r);
          if (subs === 100 && rate === 100) sameInstance100 = r;
        }
        await callAll(fan, 'closeAll');
        await stopWorkers(fan);
      }
      const sio: FanResult[] = [];
      {
        const room = `sio-room-${subs}`;
        const sioTargets = targets.map(() => ({ token: '', conversationId: room }));
        const fan = await openSubscribers(`s1s-${subs}`, 'sio', `http://127.0.0.1:${sioServer.port}`, sioTargets, Math.min(4, Math.ceil(subs / 250)));
        const sioUrl = `http://127.0.0.1:${sioServer.port}/publish`;
        await waitLive(fan, publisher!, sioUrl, [{ conversationId: room, token: '' }], true);
        for (const rate of rates) {
          log(`S1 Socket.IO (redis-adapter, INSERT then broadcast): ${subs} socket(s) at ${rate} msg/s`);
          sio.push(
            await fanRun(
              fan,
              publisher!,
              { url: sioUrl, token: '', conversationId: room, rate, durationMs: P.s1DurationMs, raw: true, label: `sio-${subs}x${rate}` },
              subs,
              { server: sioServer.pid },
            ),
          );
        }
        await callAll(fan, 'closeAll');
        await stopWorkers(fan);
      }
      if (subs === 100) {
        // Diagnostic: the same fan-out with a 2-field selection. If CPU per delivery hardly moves,
        // the cost is per subscriber and event, not per field.
        const fan = await openSubscribers(`s1m-${subs}`, 'graphql', A.wsUrl, targets, 1, true);
        await waitLive(fan, publisher!, A.url, [{ conversationId: conv, token: await token('pub') }]);
        const rate = 100;
        log(`S1 diagnostic: ${subs} subscribers at ${rate} msg/s selecting only { seq metadata }`);
        const pubToken = await token('pub');
        minimalCell = await profiled(`S1-${subs}x${rate}-minimal`, [A], () =>
          fanRun(fan, publisher!, { url: A.url, token: pubToken, conversationId: conv, rate, durationMs: P.s1DurationMs }, subs, { server: A.pid }),
        );
        await callAll(fan, 'closeAll');
        await stopWorkers(fan);
      }
      {
        const room = `room-${subs}`;
        const rawTargets = targets.map(() => ({ token: '', conversationId: room }));
        const fan = await openSubscribers(`s1c-${subs}`, 'raw', `ws://127.0.0.1:${ceilingServer.port}/`, rawTargets, Math.min(4, Math.ceil(subs / 250)));
        const ceilUrl = `http://127.0.0.1:${ceilingServer.port}/publish`;
        await waitLive(fan, publisher!, ceilUrl, [{ conversationId: room, token: '' }], true);
        for (const [i, rate] of rates.entries()) {
          log(`S1 ceiling (bare ws): ${subs} socket(s) at ${rate} msg/s`);
          const c = await fanRun(fan, publisher!, { url: ceilUrl, token: '', conversationId: room, rate, durationMs: P.s1CeilingDurationMs, raw: true }, subs, {
            server: ceilingServer.pid,
          });
          const r = real[i]!;
          const s = sio[i]!;
          s1Results.push({ subs, rate, ...r.summary, ceiling: c.summary, socketIo: s.summary });
          const isTarget100 = subs === 100 && rate === 100;
          const isTarget1000 = subs === 1000 && rate === 20;
          const limit = isTarget100 ? TARGETS.s1p99At100x100 : isTarget1000 ? TARGETS.s1p99At1000x20 : undefined;
          const complete = r.ratio === 1 && r.dups === 0 && r.publishFailures === 0;
          const failedSends = r.publishFailures ? `; ${r.publishFailures} SENDS FAILED` : '';
          rows.push({
            id: 'S1',
            metric: `${subs} sub${subs > 1 ? 's' : ''} x ${rate} msg/s`,
            // CPU per delivery only means something with many deliveries per send (1 subscriber: the send dominates).
            value: `${lat(r.lat)}, max ${ms(r.lat.max)}; ${fmtInt(r.deliveriesPerSec)} deliv/s; ${fmt(r.ratio * 100, 2)}% delivered${failedSends}${subs >= 100 ? `; ${fmtInt(r.cpuUsPerDelivery)} us CPU/deliv` : ''}`,
            ceiling: `${lat(c.lat)}; ${fmtInt(c.deliveriesPerSec)} deliv/s${subs >= 100 ? `; ${fmtInt(c.cpuUsPerDelivery)} us CPU/deliv` : ''} (ws)`,
            ratio: `p99 x${fmt(r.lat.p99 / c.lat.p99)}${subs >= 100 ? `, CPU x${fmt(r.cpuUsPerDelivery / c.cpuUsPerDelivery)}` : ''}`,
            target: limit ? `p99 <= ${limit} ms, 100%` : '100% delivered',
            status: limit
              ? target(
                  `S1 ${subs} subs @ ${rate} msg/s p99 <= ${limit} ms`,
                  r.lat.p99 <= limit && complete,
                  `p99 ${ms(r.lat.p99)}, ${fmt(r.ratio * 100, 3)}% delivered, ${r.publishFailures} sends failed`,
                )
              : complete
                ? 'ok'
                : 'FAIL',
          });
          socketIoRow(`S1 ${subs} subs @ ${rate} msg/s`, r, s, subs >= 100, isTarget100 || isTarget1000);
          target(
            `S1 ${subs} subs @ ${rate} msg/s: 100% delivered`,
            complete,
            `${r.delivered}/${r.expected} delivered, ${r.gaps} gaps, ${r.dups} dups, ${r.publishFailures} of ${r.published + r.publishFailures} sends failed`,
          );
        }
        await callAll(fan, 'closeAll');
        await stopWorkers(fan);
      }
    }
    if (minimalCell) {
      const full = sameInstance100;
      rows.push({
        id: '',
        metric: '  diag: 100 x 100, { seq metadata }',
        value: `${lat(minimalCell.lat)}; ${fmtInt(minimalCell.deliveriesPerSec)} deliv/s; ${fmt(minimalCell.ratio * 100, 2)}% delivered; ${fmtInt(minimalCell.cpuUsPerDelivery)} us CPU/deliv`,
        ceiling: full ? `full selection: ${fmtInt(full.cpuUsPerDelivery)} us CPU/deliv` : '',
        ratio: full ? `CPU x${fmt(minimalCell.cpuUsPerDelivery / full.cpuUsPerDelivery, 2)}` : '',
        target: '',
        status: minimalCell.ratio === 1 && minimalCell.dups === 0 ? 'ok' : 'incomplete',
      });
      s1Results.push({ diagnostic: 'minimal selection { seq metadata }', subs: 100, rate: 100, ...minimalCell.summary });
    }
    json.S1 = s1Results;
    await stopServer(ceilingServer);
    await stopServer(sioServer);
  }

  // -- X1 ----------------------------------------------------------------------------------------
  if (ONLY.has('X1')) {
    const B = await start('server-b');
    const conv = seed.fan.get(X1.subs)!;
    const targets = await Promise.all(sUsers.slice(0, X1.subs).map(async (u) => ({ token: await token(u), conversationId: conv })));
    const fan = await openSubscribers('x1', 'graphql', B.wsUrl, targets, 1);
    await waitLive(fan, publisher!, A.url, [{ conversationId: conv, token: await token('pub') }]);
    log(`X1: send on A, ${X1.subs} subscribers on B, ${X1.rate} msg/s`);
    const pubToken = await token('pub');
    const r = await profiled('X1', [A, B], () =>
      fanRun(fan, publisher!, { url: A.url, token: pubToken, conversationId: conv, rate: X1.rate, durationMs: P.x1DurationMs }, X1.subs, {
        a: A.pid,
        b: B.pid,
      }),
    );
    log(`  round trips per published message: ${roundTrips('X1', r.published)}`);
    await callAll(fan, 'closeAll');
    await stopWorkers(fan);
    await stopServer(B);
    const s = await socketIoX1(targets.length);
    json.X1 = { subs: X1.subs, rate: X1.rate, ...r.summary, sameInstance: sameInstance100?.summary, socketIo: s.summary };
    const complete = r.ratio === 1 && r.dups === 0 && r.publishFailures === 0;
    rows.push({
      id: 'X1',
      metric: `A -> B, ${X1.subs} subs x ${X1.rate} msg/s`,
      value: `${lat(r.lat)}, max ${ms(r.lat.max)}; ${fmt(r.ratio * 100, 2)}% delivered`,
      ceiling: sameInstance100 ? `same instance: ${lat(sameInstance100.lat)}` : '-',
      ratio: sameInstance100 ? `p99 x${fmt(r.lat.p99 / sameInstance100.lat.p99)}` : '',
      target: '100% delivered',
      status: target(
        'X1 cross-instance: 100% delivered',
        complete,
        `${r.delivered}/${r.expected}, ${r.gaps} gaps, ${r.dups} dups, ${r.publishFailures} sends failed`,
      ),
    });
    socketIoRow('X1 A -> B', r, s, true, false);
  }
  // -- X1C ---------------------------------------------------------------------------------------
  // X1 again with both instances on a Redis Cluster (three masters, each with a replica, started
  // here as the test kit starts it): sharded pub/sub beside the single Redis of X1.
  if (ONLY.has('X1C')) {
    const cluster = await startRedisCluster();
    cleanups.push(() => cluster.stop());
    const clusterEnv = { ...serverEnv, REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.env };
    const onCluster = async (name: string) => {
      const s = await startServerProcess({ name, env: clusterEnv, logDir });
      servers.push(s);
      log(`${name} pid ${s.pid} on ${s.url} (Redis Cluster ${cluster.env})`);
      return s;
    };
    const [CA, CB] = [await onCluster('server-ca'), await onCluster('server-cb')];
    const conv = seed.fan.get(X1.subs)!;
    const targets = await Promise.all(sUsers.slice(0, X1.subs).map(async (u) => ({ token: await token(u), conversationId: conv })));
    const fan = await openSubscribers('x1c', 'graphql', CB.wsUrl, targets, 1);
    const pubToken = await token('pub');
    await waitLive(fan, publisher!, CA.url, [{ conversationId: conv, token: pubToken }]);
    log(`X1C: send on A, ${X1.subs} subscribers on B, ${X1.rate} msg/s, on a Redis Cluster`);
    const r = await profiled('X1C', [CA, CB], () =>
      fanRun(fan, publisher!, { url: CA.url, token: pubToken, conversationId: conv, rate: X1.rate, durationMs: P.x1DurationMs }, X1.subs, {
        a: CA.pid,
        b: CB.pid,
      }),
    );
    log(`  round trips per published message: ${roundTrips('X1C', r.published)}`);
    await callAll(fan, 'closeAll');
    await stopWorkers(fan);
    const singleLat = (json.X1 as { latencyMs?: Summary } | undefined)?.latencyMs;
    json.X1C = { subs: X1.subs, rate: X1.rate, ...r.summary };
    const complete = r.ratio === 1 && r.dups === 0 && r.publishFailures === 0;
    rows.push({
      id: 'X1C',
      metric: `A -> B on Redis Cluster, ${X1.subs} subs x ${X1.rate} msg/s`,
      value: `${lat(r.lat)}, max ${ms(r.lat.max)}; ${fmt(r.ratio * 100, 2)}% delivered`,
      ceiling: singleLat ? `X1 (one Redis): ${lat(singleLat)}` : '-',
      ratio: singleLat ? `p99 x${fmt(r.lat.p99 / singleLat.p99)}` : '',
      target: '100% delivered',
      status: target(
        'X1C cross-instance on a Redis Cluster: 100% delivered',
        complete,
        `${r.delivered}/${r.expected}, ${r.gaps} gaps, ${r.dups} dups, ${r.publishFailures} sends failed`,
      ),
    });
    await stopServer(CA);
    await stopServer(CB);
    await cluster.stop();
  }
  if (publisher) await stopWorkers([publisher]);

  // -- P1, P2 ------------------------------------------------------------------------------------
  if (ONLY.has('P1') || ONLY.has('P2')) {
    const agents = worker('agents', 'http-load.ts');
    const ceilingServer = await startServerProcess({ name: 'ws-ceiling-p', env: {}, logDir, script: compiled.wsCeiling });
    servers.push(ceilingServer);
    /** Agents streaming TEXT parts at `rate` each, subscribers counting every part (see http-load's stream). */
    const streamPhase = async (
      phase: 'P1' | 'P2',
      list: { agent: string; conversationId: string; subscribers: string[] }[],
      rate: number,
      durationMs: number,
      limit: number,
    ) => {
      const subsPerConversation = list[0]!.subscribers.length;
      const targets = await Promise.all(list.flatMap((x) => x.subscribers.map(async (u) => ({ token: await token(u), conversationId: x.conversationId }))));
      const streamers = await Promise.all(list.map(async (x) => ({ token: await token(x.agent, 'agent'), conversationId: x.conversationId })));
      const nWorkers = Math.min(4, Math.ceil(targets.length / 250));
      const fan = await openSubscribers(`${phase.toLowerCase()}`, 'stream', A.wsUrl, targets, nWorkers);
      await waitLive(fan, agents, A.url, streamers, false, 60_000, 'streamProbe');
      log(`${phase}: ${list.length} agent(s) streaming ${rate} parts/s each to ${subsPerConversation} subscriber(s) per conversation`);
      // Parts per second each agent reached: it appends one part after the other, so it falls behind when appends take longer than 1/rate.
      let achieved = { min: NaN, median: NaN };
      const r = await profiled(phase, [A], () =>
        fanRun(
          fan,
          agents,
          {
            url: A.url,
            token: '',
            conversationId: '',
            rate,
            durationMs,
            label: phase,
            publish: async (runTag) => {
              const s = await agents.call<StreamResult>('stream', { url: A.url, agents: streamers, rate, durationMs, runTag, rotateEvery: STREAM_ROTATE });
              const rates = s.perAgentRate.sort((a, b) => a - b);
              achieved = { min: rates[0]!, median: rates[rates.length >> 1]! };
              log(
                `  agents: ${s.ok} parts appended, ${s.failed} failed, ${s.streams} answers; parts/s per agent min ${fmt(rates[0]!)} median ${fmt(rates[rates.length >> 1]!)}; append ${lat(summarize([s.latencies]))}`,
              );
              if (s.failed) log(`  e.g. ${s.errorSamples[0]}`);
              return s;
            },
          },
          subsPerConversation,
          { server: A.pid },
        ),
      );
      log(`  round trips per part: ${roundTrips(phase, r.published)}`);
      await callAll(fan, 'closeAll');
      await stopWorkers(fan);
      // Ceiling: the bare ws server broadcasting as many frames to as many sockets, over as many rooms.
      const rooms = list.map((_, k) => `${phase}-room-${k}`);
      const rawTargets = list.flatMap((x, k) => x.subscribers.map(() => ({ token: '', conversationId: rooms[k]! })));
      const cfan = await openSubscribers(`${phase.toLowerCase()}c`, 'raw', `ws://127.0.0.1:${ceilingServer.port}/`, rawTargets, nWorkers);
      const ceilUrl = `http://127.0.0.1:${ceilingServer.port}/publish`;
      await waitLive(
        cfan,
        agents,
        ceilUrl,
        rooms.map((conversationId) => ({ conversationId, token: '' })),
        true,
      );
      log(`${phase} ceiling (bare ws): ${list.length} room(s) at ${rate} msg/s each, ${subsPerConversation} socket(s) per room`);
      const c = await fanRun(
        cfan,
        agents,
        {
          url: ceilUrl,
          token: '',
          conversationId: rooms[0]!,
          targets: rooms.map((conversationId) => ({ conversationId, token: '' })),
          rate: rate * list.length,
          durationMs: Math.min(durationMs, P.s1CeilingDurationMs),
          raw: true,
          label: `ws-${phase}`,
        },
        subsPerConversation,
        { server: ceilingServer.pid },
      );
      await callAll(cfan, 'closeAll');
      await stopWorkers(cfan);
      const complete = r.ratio === 1 && r.dups === 0 && r.gaps === 0 && r.publishFailures === 0;
      json[phase] = {
        agents: list.length,
        subscribersPerConversation: subsPerConversation,
        partsPerSecondPerAgent: rate,
        achievedPerAgent: achieved,
        ...r.summary,
        ceiling: c.summary,
      };
      rows.push({
        id: phase,
        metric: `${list.length} agent${list.length > 1 ? 's' : ''} x ${rate} parts/s -> ${subsPerConversation} sub${subsPerConversation > 1 ? 's' : ''}/conv`,
        value: `${lat(r.lat)}, max ${ms(r.lat.max)}; agents at ${fmt(achieved.median)} parts/s; ${fmtInt(r.deliveriesPerSec)} deliv/s; ${fmt(r.ratio * 100, 2)}% delivered, gaps ${r.gaps} dups ${r.dups}${r.publishFailures ? `; ${r.publishFailures} APPENDS FAILED` : ''}; ${fmtInt(r.cpuUsPerDelivery)} us CPU/deliv`,
        ceiling: `${lat(c.lat)}; ${fmtInt(c.deliveriesPerSec)} deliv/s; ${fmtInt(c.cpuUsPerDelivery)} us CPU/deliv (ws)`,
        ratio: `p99 x${fmt(r.lat.p99 / c.lat.p99)}, CPU x${fmt(r.cpuUsPerDelivery / c.cpuUsPerDelivery)}`,
        target: `p99 <= ${limit} ms, all once, in order`,
        status: target(
          `${phase} ${list.length} agent(s) x ${rate} parts/s p99 <= ${limit} ms, every part once, in order`,
          r.lat.p99 <= limit && complete && achieved.min >= 0.95 * rate,
          `p99 ${ms(r.lat.p99)}; ${r.delivered}/${r.expected} delivered, ${r.gaps} gaps, ${r.dups} dups, ${r.publishFailures} appends failed; agents reached ${fmt(achieved.median)} parts/s (median; min ${fmt(achieved.min)}) of ${rate}`,
        ),
      });
    };
    if (ONLY.has('P1'))
      await streamPhase(
        'P1',
        [{ agent: p1Agent, conversationId: seed.p1, subscribers: sUsers.slice(0, P.p1.subs) }],
        P1_RATE,
        P.p1.durationMs,
        TARGETS.p1P99Ms,
      );
    if (ONLY.has('P2'))
      await streamPhase(
        'P2',
        p2Agents.map((agent, i) => ({ agent, conversationId: seed.p2[i]!, subscribers: [p2Subs[i]!] })),
        P2_RATE,
        P.p2.durationMs,
        TARGETS.p2P99Ms,
      );
    await stopWorkers([agents]);
    await stopServer(ceilingServer);
  }

  // -- WH1 ---------------------------------------------------------------------------------------
  if (ONLY.has('WH1')) {
    const receiver = worker('webhook-receiver', 'webhook-receiver.ts');
    const port = await receiver.call<number>('listen', {});
    const sender = worker('wh1-sender', 'http-load.ts');
    const hookUrl = `http://127.0.0.1:${port}/hook`;
    const sendLoops = (): Loop[] => whUsers.map((u) => ({ cls: 'send', token: tokens.get(u)!, kind: 'send', conversations: seed.wh }));
    const openTargets = whUsers.flatMap((u) => seed.wh.map((conversationId) => ({ conversationId, token: tokens.get(u)! })));
    const wh = P.wh1;
    const openLoad = async (name: string, runId: string) => {
      const before = referenceLoopMs();
      const meter = cpuMeter({ server: A.pid, receiver: receiver.pid }, workerPids);
      const sent = await sender.call<RateResult>('rate', {
        url: A.url,
        token: '',
        conversationId: '',
        targets: openTargets,
        rate: wh.rate,
        durationMs: wh.durationMs,
        runId,
      });
      const cpu = meter();
      otherLoad[name] = cpu.other ?? NaN;
      stealLoad[name] = cpu.steal ?? NaN;
      referenceLoop[name] = [before, referenceLoopMs()];
      const sendLat = summarize([sent.latencies]);
      const sendRate = sent.ok / ((sent.lastSendAt - sent.firstSendAt) / 1000 || 1);
      log(
        `  ${name}: ${sent.ok} sent (${sent.failed} failed) at ${fmtInt(sendRate)}/s, send ${lat(sendLat)}; cpu ${JSON.stringify(cpu)}, ${referenceText(name)}`,
      );
      if (sent.failed) log(`  e.g. ${sent.errorSamples[0]}`);
      return { sent, sendLat, sendRate, cpu };
    };
    /**
     * Waits until the receiver holds `expected` events, nothing new came for 10 s, or 3 minutes
     * passed: a backlog that takes longer is reported as what had arrived by then.
     */
    const drain = async (expected: number) => {
      let last = -1;
      let lastChange = Date.now();
      const giveUpAt = Date.now() + 180_000;
      for (;;) {
        const got = await receiver.call<number>('progress');
        if (got >= expected || Date.now() > giveUpAt) return got;
        if (got !== last) {
          last = got;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > 10_000) return got;
        await sleep(250);
      }
    };
    type Received = {
      unique: number;
      duplicates: number;
      badSignatures: number;
      otherEvents: number;
      commitLatencies: Float64Array;
      sendLatencies: Float64Array;
      firstAt: number;
      lastAt: number;
      perSecond: number[];
      errorSamples: string[];
    };

    log(
      `WH1: sends without a webhook: closed loop (${CONCURRENCY} loops over ${seed.wh.length} conversations), then ${fmtInt(wh.rate)} msg/s for ${wh.durationMs / 1000} s`,
    );
    const plainClosed = await profiled('WH1-plain', [A], () => closedRun('wh1-plain', A.url, sendLoops(), P.warmupMs, P.durationMs, { server: A.pid }));
    const plainOpen = await openLoad('wh1-plain-open', `wh-plain-${Date.now()}`);

    const { createWebhook } = await http.gql(await token(whAdmin, 'user', ['admin']), CREATE_WEBHOOK, { input: { url: hookUrl, events: ['message.created'] } });
    const webhookId = createWebhook.webhook.id as string;
    await receiver.call('setSecret', { secret: createWebhook.secret });
    // Live once a message sent now reaches the receiver (the server's webhook cache has it).
    const liveBy = Date.now() + 30_000;
    for (;;) {
      await send(whUsers[0]!, seed.wh[0]!, WEBHOOK_PROBE);
      await sleep(500);
      if ((await receiver.call<number>('probes')) > 0) break;
      if (Date.now() > liveBy) throw new Error('WH1: no delivery reached the receiver within 30 s');
    }

    log(`WH1: the same sends with a webhook for message.created (receiver on ${hookUrl})`);
    await receiver.call('reset');
    const hookClosed = await profiled('WH1-closed', [A], () => closedRun('wh1-hook', A.url, sendLoops(), P.warmupMs, P.durationMs, { server: A.pid }));
    const closedGot = await drain(hookClosed.okTotal);
    const closedRes = await receiver.call<Received>('result');
    log(
      `  closed loop: ${closedGot} of ${hookClosed.okTotal} events received (${closedRes.duplicates} duplicates), drained ${fmt((closedRes.lastAt - Date.now()) / -1000)} s ago`,
    );

    await receiver.call('reset');
    const hookOpen = await profiled('WH1', [A], async () => {
      const o = await openLoad('wh1-hook-open', `wh-hook-${Date.now()}`);
      const got = await drain(o.sent.ok);
      return { ...o, got };
    });
    log(`  round trips per message (send + delivery): ${roundTrips('WH1', hookOpen.sent.ok)}`);
    const res = await receiver.call<Received>('result');
    const commit = summarize([res.commitLatencies]);
    const fromSend = summarize([res.sendLatencies]);
    const windowS = (hookOpen.sent.lastSendAt - hookOpen.sent.firstSendAt) / 1000 || 1;
    // Deliveries per second while the sends ran (the first and last seconds are partial).
    const steady = res.perSecond.slice(1, Math.max(2, Math.floor(windowS)));
    const steadyRate = steady.length ? steady.reduce((a, b) => a + b, 0) / steady.length : NaN;
    const drainS = (res.lastAt - hookOpen.sent.lastSendAt) / 1000;
    log(
      `  open loop: ${res.unique} of ${hookOpen.sent.ok} events received, ${res.duplicates} duplicates, ${res.badSignatures} bad signatures; ` +
        `commit-to-delivery ${lat(commit)} max ${ms(commit.max)}; send-to-delivery ${lat(fromSend)}; ${fmtInt(steadyRate)} deliveries/s while sending; last delivery ${fmt(drainS)} s after the last send`,
    );
    if (res.errorSamples.length) log(`  receiver: ${res.errorSamples.slice(0, 3).join('; ')}`);

    await http.gql(await token(whAdmin, 'user', ['admin']), DELETE_WEBHOOK, { id: webhookId });
    log('WH1 ceiling: signed events POSTed straight to the receiver, 16 connections (the server delivers up to WEBHOOK_CONCURRENCY = 16 at once)');
    await receiver.call('reset');
    const flooder = worker('wh1-flood', 'webhook-receiver.ts');
    const fmeter = cpuMeter({ receiver: receiver.pid }, workerPids);
    const flood = await flooder.call<ClosedResult>('flood', {
      url: hookUrl,
      secret: createWebhook.secret,
      concurrency: 16,
      warmupMs: P.ceilingWarmupMs,
      durationMs: P.ceilingDurationMs,
    });
    const fcpu = fmeter();
    const floodRate = (flood.ok.flood ?? 0) / (flood.windowMs / 1000);
    log(`  ${fmtInt(floodRate)} deliveries/s, ${lat(summarize([flood.latencies.flood ?? new Float64Array()]))}; cpu ${JSON.stringify(fcpu)}`);
    await stopWorkers([flooder, sender, receiver]);

    const sendsRatio = hookClosed.totalRate / plainClosed.totalRate;
    const exactlyOnce = res.unique === hookOpen.sent.ok && res.duplicates === 0 && res.badSignatures === 0 && hookOpen.sent.failed === 0;
    const closedOnce = closedGot === hookClosed.okTotal && closedRes.duplicates === 0 && closedRes.badSignatures === 0;
    const keptUp = hookOpen.sendRate >= 0.98 * wh.rate && commit.p99 <= TARGETS.wh1P99Ms;
    json.WH1 = {
      rate: wh.rate,
      durationMs: wh.durationMs,
      sendsWithoutWebhook: { closed: plainClosed.summary, open: { ...plainOpen.sendLat, sendRate: plainOpen.sendRate, cpu: plainOpen.cpu } },
      sendsWithWebhook: { closed: hookClosed.summary, open: { ...hookOpen.sendLat, sendRate: hookOpen.sendRate, cpu: hookOpen.cpu } },
      sendsRatio,
      deliveries: {
        sent: hookOpen.sent.ok,
        received: res.unique,
        duplicates: res.duplicates,
        badSignatures: res.badSignatures,
        commitToDeliveryMs: commit,
        sendToDeliveryMs: fromSend,
        perSecond: res.perSecond,
        steadyRate,
        drainSeconds: drainS,
      },
      closedLoopDeliveries: { acknowledged: hookClosed.okTotal, received: closedGot, duplicates: closedRes.duplicates },
      ceiling: { deliveriesPerSecond: floodRate, latencyMs: summarize([flood.latencies.flood ?? new Float64Array()]), cpu: fcpu },
    };
    rows.push({
      id: 'WH1',
      metric: `webhooks at ${fmtInt(wh.rate)} msg/s for ${wh.durationMs / 1000} s, local receiver`,
      value: `${res.unique}/${hookOpen.sent.ok} delivered, ${res.duplicates} dups; commit->delivery ${lat(commit)}; ${fmtInt(steadyRate)} deliv/s; sends at ${fmtInt(hookOpen.sendRate)}/s`,
      ceiling: `receiver takes ${fmtInt(floodRate)} deliv/s (16 conns)`,
      ratio: `${fmt((steadyRate / floodRate) * 100)}%`,
      target: `all once, p99 <= ${fmtInt(TARGETS.wh1P99Ms)} ms`,
      status: target(
        `WH1 ${fmtInt(wh.rate)} msg/s: every event once, p99 commit-to-delivery <= 1 s`,
        exactlyOnce && keptUp,
        `${res.unique}/${hookOpen.sent.ok} received, ${res.duplicates} duplicates, ${res.badSignatures} bad signatures, ${hookOpen.sent.failed} sends failed; p99 ${ms(commit.p99)}; sends at ${fmtInt(hookOpen.sendRate)}/s`,
      ),
    });
    rows.push({
      id: '',
      metric: `  sends with / without a webhook (closed loop)`,
      value: `${fmtInt(hookClosed.totalRate)} msg/s, ${lat(hookClosed.latAll)}; ${closedGot}/${hookClosed.okTotal} delivered${closedOnce ? '' : ' (INCOMPLETE)'}`,
      ceiling: `without: ${fmtInt(plainClosed.totalRate)} msg/s, ${lat(plainClosed.latAll)}`,
      ratio: `${fmt(sendsRatio * 100)}%`,
      target: `>= ${fmt(TARGETS.wh1SendsVsPlain * 100, 0)}%`,
      status: target(
        'WH1 sends with a webhook >= 90% of sends without',
        sendsRatio >= TARGETS.wh1SendsVsPlain && hookClosed.errors === 0,
        `${fmtInt(hookClosed.totalRate)} vs ${fmtInt(plainClosed.totalRate)} msg/s; open loop send p99 ${ms(hookOpen.sendLat.p99)} with, ${ms(plainOpen.sendLat.p99)} without`,
      ),
    });
    rows.push({
      id: '',
      metric: `  sends at ${fmtInt(wh.rate)}/s with / without`,
      value: `send ${lat(hookOpen.sendLat)}`,
      ceiling: `without: ${lat(plainOpen.sendLat)}`,
      ratio: `p99 x${fmt(hookOpen.sendLat.p99 / plainOpen.sendLat.p99)}`,
      target: '',
      status: '',
    });
  }

  // -- SR1 ---------------------------------------------------------------------------------------
  if (ONLY.has('SR1')) {
    // Seeded here, after every other phase that writes messages (C1 only probes): the million rows
    // and their GIN index would otherwise be under all of them, unlike the runs they are compared with.
    seed.sr = await seedSearch(DATABASE_URL, org, srUsers, P.sr1.conversations, P.sr1.perConversation);
    await db.query('VACUUM ANALYZE messages, conversations, participants');
    const total = P.sr1.conversations * P.sr1.perConversation;
    log(
      `SR1: searchMessages("${SR1_WORD}", first: 20) over ${fmtInt(total)} messages (${fmtInt(total / 100)} match) in ${P.sr1.conversations} conversations, ${SR1_CLIENTS} clients`,
    );
    const loops: Loop[] = srUsers.map((u) => ({ cls: 'sr1', token: tokens.get(u)!, kind: 'search', conversations: [SR1_WORD] }));
    const sr = await profiled('SR1', [A], () => closedRun('sr1', A.url, loops, P.warmupMs, P.durationMs, { server: A.pid }));
    log(`  round trips: ${roundTrips('SR1', sr.okTotal)}`);
    const recorded = await A.record(() => http.gql(tokens.get(srUsers[0]!)!, SEARCH_MESSAGES, { q: SR1_WORD }));
    const searches = recorded.filter((st) => st.text.includes('websearch_to_tsquery'));
    if (searches.length !== 1) throw new Error(`SR1: one search statement expected; recorded ${describeStatements(recorded)}`);
    const statements = replayable(searches, { user: srUsers[0]!, target: SR1_WORD });
    statements[0]!.mustReturnRows = true;
    // The plan, for where the time goes (the same statement and values the server sent).
    const plan = await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${searches[0]!.text}`, searches[0]!.values);
    const planText = plan.rows.map((r) => r['QUERY PLAN'] as string);
    log(`  plan of the search statement:\n${planText.map((l) => `      ${l}`).join('\n')}`);
    log(`SR1 ceiling: the server's search statement (recorded from one request) straight through pg, ${SR1_CLIENTS} loops`);
    const src = await pgRun(
      'sr1-pg',
      DATABASE_URL,
      'replay',
      org,
      srUsers.map((u) => ({ cls: 'sr1', userId: u, conversations: [SR1_WORD] })),
      { statements },
    );
    const rate = sr.totalRate;
    const ceil = src.totalRate;
    const p95 = sr.latAll.p95;
    json.SR1 = { ...sr.summary, messages: total, matching: total / 100, plan: planText, ceiling: src.summary };
    rows.push({
      id: 'SR1',
      metric: `searchMessages, ${fmtInt(total)} msgs, 1% match, ${SR1_CLIENTS} clients`,
      value: `${fmtInt(rate)} req/s, p50 ${ms(sr.latAll.p50)} / p95 ${ms(p95)} / p99 ${ms(sr.latAll.p99)}; server ${fmt(sr.serverCpuMsPerOp, 2)} ms CPU/req`,
      ceiling: `${fmtInt(ceil)} req/s, p95 ${ms(src.latAll.p95)} (pg, the search statement)`,
      ratio: `${fmt((rate / ceil) * 100)}%`,
      target: `p95 <= ${TARGETS.sr1P95Ms} ms, >= ${fmt(TARGETS.sr1VsCeiling * 100, 0)}%`,
      status: target(
        'SR1 search p95 <= 50 ms at 8 clients and >= 0.5x the raw query',
        p95 <= TARGETS.sr1P95Ms && rate >= TARGETS.sr1VsCeiling * ceil && sr.errors === 0,
        `p95 ${ms(p95)}, ${fmtInt(rate)} vs ${fmtInt(ceil)} req/s, ${sr.errors} errors`,
      ),
    });
  }

  // -- C1 ----------------------------------------------------------------------------------------
  if (ONLY.has('C1')) {
    // A fresh server, so nothing from the other phases sits in its heap.
    await stopServer(A);
    const C = await start('server-c1');
    const prober = worker('c1-prober', 'http-load.ts');
    const probes = await Promise.all(seed.c.map(async (conversationId, k) => ({ conversationId, token: await token(cUsers[k * 100]!) })));
    const targets = await Promise.all(cUsers.map(async (u, i) => ({ token: await token(u), conversationId: seed.c[Math.floor(i / 100)]! })));
    log('C1: memory per idle WebSocket with one messageAdded subscription');
    const real = await memorySteps('graphql', C, targets, prober, C.url, probes);
    await stopWorkers([prober]);
    await stopServer(C);
    log('C1 ceiling: bare ws server, same sockets');
    const ceilingServer = await startServerProcess({ name: 'ws-ceiling-c1', env: {}, logDir, script: compiled.wsCeiling });
    servers.push(ceilingServer);
    const rawTargets = targets.map((t) => ({ token: '', conversationId: t.conversationId }));
    const ceil = await memorySteps('raw', ceilingServer, rawTargets, undefined, '', []);
    await stopServer(ceilingServer);
    json.C1 = { graphql: real, ceiling: ceil };
    const top = real.points[real.points.length - 1]!;
    rows.push({
      id: 'C1',
      metric: `RSS per idle socket+subscription`,
      value: `${fmt(real.slopeKiB)} KB/socket (slope ${real.points.map((p) => fmtInt(p.sockets)).join('/')}); RSS ${real.points.map((p) => `${fmt(p.rssKiB / 1024, 0)}`).join('/')} MB (base ${fmt(real.baseKiB / 1024, 0)})`,
      ceiling: `${fmt(ceil.slopeKiB)} KB/socket (ws)`,
      ratio: `x${fmt(real.slopeKiB / ceil.slopeKiB)}`,
      target: `<= ${TARGETS.c1KBPerSocket} KB at ${fmtInt(top.sockets)}`,
      status: target(
        `C1 ${fmtInt(top.sockets)} sockets at <= 20 KB each`,
        real.slopeKiB <= TARGETS.c1KBPerSocket && top.sockets >= 10_000 && top.live === top.sockets,
        `slope ${fmt(real.slopeKiB)} KB/socket, ${fmt((top.rssKiB - real.baseKiB) / top.sockets)} KB/socket over baseline at ${top.sockets}; ${top.live}/${top.sockets} live` +
          (top.sockets < 10_000 ? ' (quick run: fewer than 10,000 sockets)' : ''),
      ),
    });
    rows.push({
      id: '',
      metric: '  server idle CPU at top step',
      value: `${real.idleCpu}% of a core (keep-alive pings, lease renewals, membership re-checks)`,
      ceiling: `${ceil.idleCpu}% (ws)`,
      ratio: '',
      target: '',
      status: '',
    });
  }

  // -- report ------------------------------------------------------------------------------------
  const elapsed = (Date.now() - t0) / 1000;
  json.elapsedSeconds = elapsed;
  json.rows = rows;
  json.roundTrips = phaseStats;
  json.targets = targetResults;
  printTable();
  const failed = targetResults.filter((t) => !t.pass);
  console.log('\nTargets:');
  for (const t of targetResults) console.log(`  ${t.pass ? 'PASS' : 'FAIL'}  ${t.target}: ${t.detail}`);
  console.log(`\n${targetResults.length - failed.length}/${targetResults.length} targets pass; ${elapsed.toFixed(0)} s`);
  json.otherLoadPercentOfCore = otherLoad;
  json.stealPercentOfCore = stealLoad;
  console.log(
    `CPU of other processes during measurements (% of one core): ${Object.entries(otherLoad)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  console.log(
    `CPU stolen by the host during measurements (% of one core): ${Object.entries(stealLoad)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  json.referenceLoopMs = referenceLoop;
  console.log(
    `Reference loop before/after each measurement (ms of CPU; start of run ${fmtInt(json.referenceLoopMsAtStart as number)}): ${Object.keys(referenceLoop)
      .map((k) => `${k} ${referenceLoop[k]!.map(fmtInt).join('/')}`)
      .join(', ')}`,
  );
  // Errors the servers logged (pino level >= 50), with the most frequent messages.
  const serverErrors: Record<string, { count: number; top: [string, number][] }> = {};
  for (const file of readdirSync(logDir).filter((f) => f.endsWith('.log'))) {
    const counts = new Map<string, number>();
    for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
        if ((entry.level ?? 0) < 50) continue;
        // Drizzle's message is "Failed query: <sql>\nparams: <values>: <cause>": keep the cause.
        const tail = (entry.err?.message ?? entry.msg ?? '').split('\n').pop()!;
        const key = (tail.startsWith('params:') ? tail.slice(tail.lastIndexOf(': ') + 2) : tail).slice(0, 120);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      } catch {}
    }
    const count = [...counts.values()].reduce((x, y) => x + y, 0);
    if (count) serverErrors[file] = { count, top: [...counts].sort((x, y) => y[1] - x[1]).slice(0, 3) };
  }
  json.serverErrors = serverErrors;
  for (const [file, e] of Object.entries(serverErrors)) {
    console.log(`${file}: ${e.count} errors logged, e.g. ${e.top.map(([m, n]) => `${n}x "${m}"`).join('; ')}`);
  }
  const out = join(RESULTS_DIR, 'latest.json');
  writeFileSync(out, JSON.stringify(json, null, 2));
  console.log(`results: ${out}${PROFILE ? `; CPU profiles in ${PROFILE_DIR} (npx tsx test/bench/profile-summary.ts <file>)` : ''}; server logs in ${logDir}`);
}

// ---------------------------------------------------------------------------------------------
// SR1's corpus

/**
 * SR1's messages, written by SQL rather than through the API (a million sends would take the
 * run's time): `conversations` groups with every user of `users` taking part, `perConversation`
 * messages each with seqs 1..n (last_seq set to match), from the users in turn. Each message has
 * a few words from vocabularies of about a thousand and a number; one in a hundred has
 * SR1_WORD. The generated tsvector column and its GIN index fill themselves.
 */
async function seedSearch(databaseUrl: string, org: string, users: string[], conversations: number, perConversation: number): Promise<string[]> {
  const t = Date.now();
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  let ids: string[];
  try {
    await c.query(`INSERT INTO users (org_id, id, display_name) SELECT $1, u, 'Bench ' || u FROM unnest($2::text[]) u ON CONFLICT DO NOTHING`, [org, users]);
    const { rows } = await c.query<{ id: string }>(
      `INSERT INTO conversations (org_id, type, name, created_by, last_seq)
       SELECT $1, 'GROUP', 'sr1 ' || k, $2, $3 FROM generate_series(1, $4) k RETURNING id`,
      [org, users[0], perConversation, conversations],
    );
    ids = rows.map((r) => r.id);
    await c.query(
      `INSERT INTO participants (conversation_id, org_id, user_id, role)
       SELECT c, $1, u, (CASE WHEN u = $3 THEN 'OWNER' ELSE 'MEMBER' END)::participant_role
       FROM unnest($2::uuid[]) c CROSS JOIN unnest($4::text[]) u`,
      [org, ids, users[0], users],
    );
    // n numbers the messages 1..total; created_at 10 ms apart, the newest now.
    await c.query(
      `INSERT INTO messages (conversation_id, org_id, seq, sender_id, sender_kind, content, created_at)
       SELECT c.id, $1, s.seq, ($2::text[])[1 + (g.n % $3::int)], 'USER',
              concat_ws(' ', 'note', 'w' || (g.n * 7 % 997), 'v' || (g.n * 13 % 991), 'u' || (g.n * 31 % 983),
                        'about', 't' || (g.n % 211), CASE WHEN g.n % 100 = 0 THEN $4::text END, 'message', g.n),
              now() - make_interval(secs => ($5::int - g.n) * 0.01)
       FROM unnest($6::uuid[]) WITH ORDINALITY AS c(id, k)
       CROSS JOIN generate_series(1, $7::int) AS s(seq)
       CROSS JOIN LATERAL (SELECT ((c.k - 1) * $7::int + s.seq)::int AS n) g`,
      [org, users, users.length, SR1_WORD, conversations * perConversation, ids, perConversation],
    );
  } finally {
    await c.end();
  }
  log(`SR1: ${fmtInt(conversations * perConversation)} messages in ${conversations} conversations written in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Closed-loop runs (Q1, M1) and the pg ceilings

type ClosedSummary = {
  serverCpuMsPerOp: number;
  rate: Record<string, number>;
  lat: Record<string, Summary>;
  latAll: Summary;
  totalRate: number;
  okTotal: number;
  errors: number;
  summary: Record<string, unknown>;
};

function summarizeClosed(results: ClosedResult[], cpu: Record<string, number>): ClosedSummary {
  const classes = [...new Set(results.flatMap((r) => Object.keys(r.ok)))];
  const windowS = results[0]!.windowMs / 1000;
  const rate: Record<string, number> = {};
  const latency: Record<string, Summary> = {};
  for (const c of classes) {
    rate[c] = results.reduce((n, r) => n + (r.ok[c] ?? 0), 0) / windowS;
    latency[c] = summarize(results.map((r) => r.latencies[c] ?? new Float64Array()));
  }
  const latAll = summarize(results.flatMap((r) => Object.values(r.latencies)));
  const totalRate = Object.values(rate).reduce((a, b) => a + b, 0);
  const errors = results.reduce((n, r) => n + r.errors, 0);
  const errorSamples = results.flatMap((r) => r.errorSamples).slice(0, 5);
  if (errors) console.log(`  ${errors} errors, e.g. ${errorSamples[0]}`);
  const okTotal = results.reduce((n, r) => n + r.okTotal, 0);
  const serverCpuMsPerOp = cpu.server !== undefined ? ((cpu.server / 100) * 1000) / totalRate : NaN;
  return {
    serverCpuMsPerOp,
    rate,
    lat: latency,
    latAll,
    totalRate,
    okTotal,
    errors,
    summary: {
      perSecond: totalRate,
      serverCpuMsPerOp,
      byClass: Object.fromEntries(classes.map((c) => [c, { perSecond: rate[c], latencyMs: latency[c] }])),
      latencyMs: latAll,
      errors,
      errorSamples,
      cpuPercentOfCore: cpu,
    },
  };
}

async function closedRun(name: string, url: string, loops: Loop[], warmupMs: number, durationMs: number, pids: Record<string, number | number[]>) {
  const referenceBefore = referenceLoopMs();
  const ws = Array.from({ length: HTTP_LOAD_WORKERS }, (_, i) => worker(`${name}-${i}`, 'http-load.ts'));
  const parts = ws.map((_, i) => loops.filter((_, j) => j % HTTP_LOAD_WORKERS === i));
  const meterAt = setTimeout(() => (meter = cpuMeter(pids, workerPids)), warmupMs);
  let meter: (() => Record<string, number>) | undefined;
  const results = await callAll<ClosedResult>(ws, 'closed', (_w, i) => ({ url, loops: parts[i], warmupMs, durationMs }));
  clearTimeout(meterAt);
  const cpu = meter?.() ?? {};
  otherLoad[name] = cpu.other ?? NaN;
  stealLoad[name] = cpu.steal ?? NaN;
  await stopWorkers(ws);
  referenceLoop[name] = [referenceBefore, referenceLoopMs()];
  const s = summarizeClosed(results, cpu);
  log(`  ${fmtInt(s.totalRate)}/s, ${lat(s.latAll)}, server CPU ${fmt(s.serverCpuMsPerOp, 2)} ms/op, cpu ${JSON.stringify(cpu)}, ${referenceText(name)}`);
  return s;
}

async function pgRun(
  name: string,
  databaseUrl: string,
  kind: 'insert' | 'query' | 'replay',
  orgId: string,
  loops: { cls: string; userId: string; conversations: string[] }[],
  replay: { statements?: ReplayStatement[]; sequence?: boolean } = {},
) {
  const referenceBefore = referenceLoopMs();
  const ws = Array.from({ length: PG_LOAD_WORKERS }, (_, i) => worker(`${name}-${i}`, 'pg-load.ts'));
  const parts = ws.map((_, i) => loops.filter((_, j) => j % PG_LOAD_WORKERS === i));
  let meter: (() => Record<string, number>) | undefined;
  const meterAt = setTimeout(() => (meter = cpuMeter({}, workerPids)), P.ceilingWarmupMs);
  const results = await callAll<ClosedResult>(ws, 'run', (_w, i) => ({
    databaseUrl,
    poolMax: Math.ceil(POOL_MAX / PG_LOAD_WORKERS),
    kind,
    orgId,
    loops: parts[i],
    warmupMs: P.ceilingWarmupMs,
    durationMs: P.ceilingDurationMs,
    ...replay,
  }));
  clearTimeout(meterAt);
  const cpu = meter?.() ?? {};
  otherLoad[name] = cpu.other ?? NaN;
  stealLoad[name] = cpu.steal ?? NaN;
  await stopWorkers(ws);
  referenceLoop[name] = [referenceBefore, referenceLoopMs()];
  const s = summarizeClosed(results, cpu);
  log(`  ${fmtInt(s.totalRate)}/s, ${lat(s.latAll)}, cpu ${JSON.stringify(cpu)}, ${referenceText(name)}`);
  return s;
}

/**
 * Recorded statements (ServerProcess.record) as pg-load replays them: each value equal to one of
 * the sample request's own (its viewer, message or query, emoji) becomes a slot that each replayed
 * operation fills with its own.
 */
function replayable(recorded: RecordedStatement[], sample: { user: string; target: string; emoji?: string }): ReplayStatement[] {
  const slot = (v: unknown) =>
    v === sample.user ? { $: 'user' } : v === sample.target ? { $: 'target' } : sample.emoji && v === sample.emoji ? { $: 'emoji' } : v;
  return recorded.map((st) => ({ text: st.text, name: st.name, rowMode: st.rowMode, values: st.values?.map(slot) }));
}

/** The statements of a recording, each shortened, for the log. */
const describeStatements = (list: { text: string }[]) => list.map((st) => st.text.replace(/\s+/g, ' ').slice(0, 60)).join(' | ');

/** Per conversation: seqs are exactly 1..last_seq (no gap, no repeat). */
async function seqIntegrity(db: pg.Pool, convs: string[]) {
  const { rows: r } = await db.query(
    `SELECT c.id, c.last_seq, count(m.*)::int AS n, coalesce(max(m.seq), 0) AS max, count(DISTINCT m.seq)::int AS distinct
       FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
      WHERE c.id = ANY($1::uuid[]) GROUP BY c.id`,
    [convs],
  );
  const bad = r.filter((x) => !(x.n === x.last_seq && Number(x.max) === x.last_seq && x.distinct === x.n)).length;
  return { conversations: r.length, bad };
}

// ---------------------------------------------------------------------------------------------
// Fan-out (S1, X1)

type Target = { token: string; conversationId: string };

async function openSubscribers(name: string, mode: 'graphql' | 'raw' | 'stream' | 'sio', url: string, targets: Target[], nWorkers: number, minimal = false) {
  const ws = Array.from({ length: Math.max(1, nWorkers) }, (_, i) => worker(`${name}-${i}`, 'subscriber.ts'));
  const parts = ws.map((_, i) => targets.filter((_, j) => j % ws.length === i));
  const opened = await callAll<{ opened: number; closed: number; ms: number; errorSamples: string[] }>(ws, 'connect', (_w, i) => ({
    mode,
    url,
    targets: parts[i],
    concurrency: 50,
    minimal,
  }));
  const closed = opened.reduce((n, o) => n + o.closed, 0);
  if (closed) throw new Error(`${name}: ${closed} sockets closed while connecting: ${opened.flatMap((o) => o.errorSamples).join('; ')}`);
  return ws;
}

/** Sends probe messages until every socket has received one: then every subscription is live. */
async function waitLive(fan: Worker[], prober: Worker, url: string, probes: Target[], raw = false, timeoutMs = 60_000, method = 'probe') {
  const deadline = Date.now() + timeoutMs;
  let pending = probes;
  for (;;) {
    await prober.call(method, { url, probes: pending, raw });
    await sleep(250);
    const st = await callAll<{ sockets: number; live: number; closed: number; notLiveConversations: string[]; errorSamples: string[] }>(fan, 'status');
    const notLive = new Set(st.flatMap((s) => s.notLiveConversations));
    const closed = st.reduce((n, s) => n + s.closed, 0);
    if (closed) throw new Error(`${closed} subscriber sockets closed: ${st.flatMap((s) => s.errorSamples).join('; ')}`);
    if (notLive.size === 0) return st.reduce((n, s) => n + s.live, 0);
    if (Date.now() > deadline) throw new Error(`subscriptions not live after ${timeoutMs} ms: ${st.map((s) => `${s.live}/${s.sockets}`).join(', ')}`);
    pending = probes.filter((p) => notLive.has(p.conversationId));
  }
}

type FanResult = {
  published: number;
  /** Sends that failed (the publisher got an error): their messages cannot be counted as delivered. */
  publishFailures: number;
  cpuUsPerDelivery: number;
  /** Postgres CPU (every backend on the machine) per successful send, publish and drain. */
  pgCpuMsPerSend: number;
  lat: Summary;
  mutation: Summary;
  delivered: number;
  expected: number;
  ratio: number;
  deliveriesPerSec: number;
  gaps: number;
  dups: number;
  summary: Record<string, unknown>;
};

async function fanRun(
  fan: Worker[],
  publisher: Worker,
  pub: {
    url: string;
    token: string;
    conversationId: string;
    rate: number;
    durationMs: number;
    raw?: boolean;
    targets?: Target[];
    /** The measurement's name in the logs and JSON (default: "<subs>x<rate>"). */
    label?: string;
    /** Publishes another way than http-load's `rate` (P1, P2: agents streaming). */
    publish?: (runId: string) => Promise<RateResult>;
  },
  subs: number,
  pids: Record<string, number>,
): Promise<FanResult> {
  // Letters, digits and dashes only: P1/P2 carry it inside each part's text.
  const runId = `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  await callAll(fan, 'reset', () => ({ runId }));
  const referenceBefore = referenceLoopMs();
  const meter = cpuMeter(pids, workerPids);
  const pgCpuAtStart = groupCpuMs('postgres');
  const { publish, label, ...rateParams } = pub;
  const sent = publish ? await publish(runId) : await publisher.call<RateResult>('rate', { ...rateParams, runId });
  const cpuPublish = meter();
  const cell = label ?? `${pub.raw ? 'ws-' : ''}${subs}x${pub.rate}${Object.keys(pids).length > 1 ? '-x1' : ''}`;
  otherLoad[cell] = cpuPublish.other ?? NaN;
  stealLoad[cell] = cpuPublish.steal ?? NaN;
  const expected = sent.ok * subs;
  // Wait for the stragglers: until everything arrived, or 5 s without progress.
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const got = (await callAll<number>(fan, 'progress')).reduce((a, b) => a + b, 0);
    if (got >= expected) break;
    if (got !== last) {
      last = got;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > 5_000) break;
    await sleep(100);
  }
  // Server CPU over publish + delivery, per delivered message (less sensitive to contention than latency).
  const cpu = cpuPublish;
  const cpuAll = meter();
  const pgCpuMs = groupCpuMs('postgres') - pgCpuAtStart;
  referenceLoop[cell] = [referenceBefore, referenceLoopMs()];
  const serverKeys = Object.keys(pids);
  const serverCpuMs = serverKeys.reduce((n, k) => n + ((cpuAll[k] ?? 0) / 100) * cpuAll.wallMs!, 0);
  const parts = await callAll<{
    sockets: number;
    closed: number;
    received: number;
    minPerSocket: number;
    dups: number;
    gaps: number;
    latencies: Float64Array;
    firstRecvAt: number;
    lastRecvAt: number;
    errorSamples: string[];
  }>(fan, 'result');
  const delivered = parts.reduce((n, p) => n + p.received, 0);
  const latency = summarize(parts.map((p) => p.latencies));
  const mutation = summarize([sent.latencies]);
  const lastRecv = Math.max(...parts.map((p) => p.lastRecvAt));
  const spanS = Math.max(0.001, (lastRecv - sent.firstSendAt) / 1000);
  const deliveriesPerSec = delivered / spanS;
  const gaps = parts.reduce((n, p) => n + p.gaps, 0);
  const dups = parts.reduce((n, p) => n + p.dups, 0);
  const minPerSocket = Math.min(...parts.map((p) => p.minPerSocket));
  const ratio = expected === 0 ? 0 : delivered / expected;
  if (sent.failed) console.log(`  publisher: ${sent.failed} failed sends, e.g. ${sent.errorSamples[0]}`);
  const errs = parts.flatMap((p) => p.errorSamples);
  if (errs.length) console.log(`  subscriber errors: ${errs.slice(0, 3).join('; ')}`);
  const cpuUsPerDelivery = delivered ? (serverCpuMs * 1000) / delivered : NaN;
  const pgCpuMsPerSend = sent.ok ? pgCpuMs / sent.ok : NaN;
  log(
    `  e2e ${lat(latency)} max ${ms(latency.max)}; ${delivered}/${expected} delivered (min ${minPerSocket}/socket), ${fmtInt(deliveriesPerSec)} deliv/s; ` +
      `send ${lat(mutation)}; gaps ${gaps} dups ${dups}; server CPU ${fmt(cpuUsPerDelivery, 0)} us/delivery; cpu ${JSON.stringify(cpu)}, ${referenceText(cell)}`,
  );
  return {
    published: sent.ok,
    publishFailures: sent.failed,
    lat: latency,
    mutation,
    delivered,
    expected,
    ratio,
    deliveriesPerSec,
    gaps,
    dups,
    summary: {
      latencyMs: latency,
      sendLatencyMs: mutation,
      published: sent.ok,
      publishFailures: sent.failed,
      delivered,
      expected,
      deliveryRatio: ratio,
      minPerSocket,
      deliveriesPerSec,
      gaps,
      dups,
      serverCpuUsPerDelivery: cpuUsPerDelivery,
      postgresCpuMsPerSend: pgCpuMsPerSend,
      cpuPercentOfCore: cpu,
      cpuPercentOfCoreWithDrain: cpuAll,
    },
    cpuUsPerDelivery,
    pgCpuMsPerSend,
  };
}

// ---------------------------------------------------------------------------------------------
// Memory (C1)

type MemPoint = { sockets: number; live: number; rssKiB: number; heapUsedKiB?: number; connectMs: number };

async function memorySteps(mode: 'graphql' | 'raw', server: ServerProcess, targets: Target[], prober: Worker | undefined, probeUrl: string, probes: Target[]) {
  const readMem = async () => {
    const mem = await server.settle(3_000);
    return { rssKiB: rssKiB(server.pid), heapUsedKiB: mem ? Math.round(mem.heapUsed / 1024) : undefined };
  };
  const base = await readMem();
  await server.stats();
  log(`  ${mode}: baseline RSS ${fmt(base.rssKiB / 1024)} MB`);
  const total = targets.length;
  const nWorkers = Math.max(1, Math.ceil(total / SOCKETS_PER_WORKER));
  const ws = Array.from({ length: nWorkers }, (_, i) => worker(`c1-${mode}-${i}`, 'subscriber.ts'));
  const points: MemPoint[] = [];
  const snapshots: { sockets: number; byConstructor: ReturnType<typeof heapByConstructor> }[] = [];
  let opened = 0;
  let idleCpu = NaN;
  for (const step of P.c1Steps) {
    const batch = targets.slice(opened, step);
    const t = Date.now();
    const parts = ws.map((_, i) => batch.filter((_, j) => j % ws.length === i));
    const res = await callAll<{ opened: number; closed: number; errorSamples: string[] }>(ws, 'connect', (_w, i) => ({
      mode,
      url: mode === 'raw' ? `ws://127.0.0.1:${server.port}/` : server.wsUrl,
      targets: parts[i],
      concurrency: 50,
    }));
    const closed = res.reduce((n, r) => n + r.closed, 0);
    if (closed)
      console.log(
        `  ${closed} sockets closed while connecting: ${res
          .flatMap((r) => r.errorSamples)
          .slice(0, 3)
          .join('; ')}`,
      );
    opened = step;
    const connectMs = Date.now() - t;
    let live = step - closed;
    if (prober) {
      // Every subscription proves it is live by receiving a probe in its conversation.
      const convs = new Set(targets.slice(0, step).map((x) => x.conversationId));
      live = await waitLive(
        ws,
        prober,
        probeUrl,
        probes.filter((p) => convs.has(p.conversationId)),
        false,
        120_000,
      );
    }
    const m = await readMem();
    points.push({ sockets: step, live, rssKiB: m.rssKiB, heapUsedKiB: m.heapUsedKiB, connectMs });
    if (HEAP && (step === P.c1Steps[0] || step === P.c1Steps[P.c1Steps.length - 1])) {
      const file = join(RESULTS_DIR, `heap-${mode}-${step}.heapsnapshot`);
      await server.heapSnapshot(file);
      snapshots.push({ sockets: step, byConstructor: heapByConstructor(file) });
      // Snapshots are hundreds of MB; --keep-heap leaves them for a closer look (e.g. in DevTools).
      if (!KEEP_HEAP) rmSync(file, { force: true });
    }
    log(
      `  ${mode}: ${step} sockets (${live} live, connected in ${(connectMs / 1000).toFixed(1)} s): RSS ${fmt(m.rssKiB / 1024)} MB, heap ${fmt((m.heapUsedKiB ?? NaN) / 1024)} MB`,
    );
  }
  const connectStats = await server.stats();
  let idleStats: ServerStats | undefined;
  const idleMs = QUICK ? 10_000 : 30_000;
  {
    // Idle means after the last connect's work has settled (its garbage collected): what runs
    // from then on runs for as long as the sockets stay open.
    await sleep(idleMs);
    const meter = cpuMeter({ server: server.pid });
    // With --profile, what runs while nothing happens (the profiler's own cost included).
    await (mode === 'graphql' ? profiled('C1-idle', [server], () => sleep(idleMs)) : sleep(idleMs));
    idleCpu = meter().server!;
    idleStats = await server.stats();
    log(
      `  ${mode}: idle ${idleMs / 1000} s with ${opened} sockets: server CPU ${idleCpu}% of a core` +
        (idleStats ? `, ${idleStats.pg.total} pg statements, ${idleStats.redis.total} redis calls` : ''),
    );
    if (connectStats)
      log(
        `  ${mode}: connecting ${opened} sockets cost ${fmt(connectStats.pg.total / opened, 2)} pg statements and ${fmt(connectStats.redis.total / opened, 2)} redis calls per socket`,
      );
  }
  await callAll(ws, 'closeAll');
  await stopWorkers(ws);
  let heapGrowthPerSocket: ReturnType<typeof heapGrowth> | undefined;
  if (snapshots.length === 2) {
    const [a, b] = snapshots as [(typeof snapshots)[0], (typeof snapshots)[0]];
    heapGrowthPerSocket = heapGrowth(a.byConstructor, b.byConstructor, b.sockets - a.sockets, 25);
    log(`  ${mode}: heap growth per socket by constructor (${a.sockets} -> ${b.sockets} sockets):`);
    for (const r of heapGrowthPerSocket) log(`    ${fmtInt(r.perSocketBytes).padStart(6)} B  x${fmt(r.perSocketCount, 1).padStart(5)}  ${r.key}`);
  }
  const slopeKiB = slope(points.map((p) => ({ x: p.sockets, y: p.rssKiB })));
  const heapSlopeKiB = slope(points.map((p) => ({ x: p.sockets, y: p.heapUsedKiB ?? NaN })));
  log(`  ${mode}: ${fmt(slopeKiB)} KB RSS per socket, ${fmt(heapSlopeKiB)} KB heap per socket`);
  return { baseKiB: base.rssKiB, baseHeapKiB: base.heapUsedKiB, points, slopeKiB, heapSlopeKiB, idleCpu, idleMs, connectStats, idleStats, heapGrowthPerSocket };
}

// ---------------------------------------------------------------------------------------------

/** Removes what the bench's org left in the shared Redis (presence and typing keys). */
async function cleanRedis(org: string) {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const prefix = `${org}\u0000`;
    for (const pattern of [`sb:{presence}:leases:${org}*`, `sb:typing:${org}*`, `sb:rl:*${org}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    }
    for (const hash of ['sb:{presence}:seen', 'sb:{presence}:manual']) {
      let cursor = '0';
      do {
        const [next, kv] = await redis.hscan(hash, cursor, 'MATCH', `${org}*`, 'COUNT', 1000);
        cursor = next;
        const fields = kv.filter((_, i) => i % 2 === 0).filter((f) => f.startsWith(prefix));
        if (fields.length) await redis.hdel(hash, ...fields);
      } while (cursor !== '0');
    }
    let cursor = '0';
    do {
      const [next, kv] = await redis.zscan('sb:{presence}:online', cursor, 'MATCH', `${org}*`, 'COUNT', 1000);
      cursor = next;
      const members = kv.filter((_, i) => i % 2 === 0).filter((f) => f.startsWith(prefix));
      if (members.length) await redis.zrem('sb:{presence}:online', ...members);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function printTable() {
  const headers: Row = { id: '', metric: 'Metric', value: 'Switchboard', ceiling: 'Ceiling', ratio: 'vs ceiling', target: 'Target', status: 'Result' };
  const cols = Object.keys(headers) as (keyof Row)[];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[headers, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>;
  const line = (r: Row) => cols.map((c) => r[c].padEnd(width[c])).join(' | ');
  console.log(`\n${line(headers)}`);
  console.log(cols.map((c) => '-'.repeat(width[c])).join('-|-'));
  for (const r of rows) console.log(line(r));
}

main()
  .catch(async (err) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    process.exit(process.exitCode ?? 0);
  });

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type ClusterNodeProcess = { host: string; port: number; process: ChildProcess };

export type TestRedisCluster = {
  nodes: ClusterNodeProcess[];
  /** REDIS_CLUSTER_NODES for the service: every node, comma-separated. */
  env: string;
  /** The node serving `slot` as master now. */
  masterOf(slot: number): Promise<ClusterNodeProcess>;
  /** The replica of `master`. */
  replicaOf(master: ClusterNodeProcess): Promise<ClusterNodeProcess>;
  /** CLUSTER FAILOVER on a replica: it becomes master of its slots, its master lives on as replica. */
  promote(replica: ClusterNodeProcess): Promise<void>;
  /** SIGKILL one node: a crashed master, for its replica to take over. */
  kill(node: ClusterNodeProcess): Promise<void>;
  /** Resolves once every slot is served again by a live master, as every live node sees it. */
  waitUntilOk(): Promise<void>;
  stop(): Promise<void>;
};

/** Whether redis-server and redis-cli are installed; under CI=true their absence fails the run. */
export async function redisClusterAvailable(): Promise<boolean> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('CI=true needs redis-server and redis-cli for the Redis Cluster tests');
    return false;
  }
}

/** A port nothing listens on now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const cli = async (port: number, ...args: string[]) => (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real Redis Cluster on this machine: six `redis-server --cluster-enabled yes` processes (three
 * masters, each with a replica) in a temporary directory, joined by `redis-cli --cluster create`.
 * A short node timeout lets a replica take over from a killed master within seconds.
 */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-redis-cluster-'));
  const nodes: ClusterNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise<void>((resolve) => {
            if (n.process.exitCode !== null || n.process.signalCode !== null) return resolve();
            n.process.once('exit', () => resolve());
            n.process.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = join(dir, String(port));
      await mkdir(nodeDir);
      // The config file is the node's own state (its id, the cluster it joined), kept in its dir.
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1'],
          ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000'],
          // Shards whose master is up keep serving while another shard fails over.
          ...['--cluster-require-full-coverage', 'no'],
          ...['--dir', nodeDir, '--save', '', '--appendonly', 'no', '--logfile', join(nodeDir, 'redis.log')],
        ],
        { stdio: 'ignore' },
      );
      nodes.push({ host: '127.0.0.1', port, process: child });
    }
    for (const node of nodes) {
      for (let i = 0; ; i++) {
        if ((await cli(node.port, 'ping').catch(() => '')).trim() === 'PONG') break;
        if (i > 100) throw new Error(`redis-server on ${node.port} did not start`);
        await sleep(50);
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes']);
    const cluster: TestRedisCluster = {
      nodes,
      env: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
      masterOf: async (slot) => {
        const live = nodes.find((n) => n.process.exitCode === null && n.process.signalCode === null)!;
        const ranges = JSON.parse(await cli(live.port, '--json', 'cluster', 'slots')) as [number, number, [string, number, string]][];
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        const port = range?.[2][1];
        const node = nodes.find((n) => n.port === port);
        if (!node) throw new Error(`no master serves slot ${slot}`);
        return node;
      },
      replicaOf: async (master) => {
        // CLUSTER NODES lines: <id> <ip:port@busport> <flags> <master id or -> …
        const lines = (await cli(master.port, 'cluster', 'nodes'))
          .trim()
          .split('\n')
          .map((l) => l.split(' '));
        const id = lines.find((l) => l[2]!.includes('myself'))![0];
        const replica = lines.find((l) => l[3] === id);
        const node = nodes.find((n) => replica?.[1]?.startsWith(`127.0.0.1:${n.port}@`));
        if (!node) throw new Error(`no replica of ${master.port}`);
        return node;
      },
      promote: async (replica) => {
        await cli(replica.port, 'cluster', 'failover');
        for (let i = 0; ; i++) {
          if (/role:master/.test(await cli(replica.port, 'info', 'replication'))) break;
          if (i > 600) throw new Error(`${replica.port} did not become master within a minute`);
          await sleep(100);
        }
        await cluster.waitUntilOk();
      },
      kill: async (node) => {
        if (node.process.exitCode !== null || node.process.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => node.process.once('exit', () => resolve()));
        node.process.kill('SIGKILL');
        await exited;
      },
      waitUntilOk: async () => {
        for (let i = 0; ; i++) {
          const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
          const states = await Promise.all(live.map((n) => cli(n.port, 'cluster', 'info').catch(() => '')));
          const ranges = JSON.parse((await cli(live[0]!.port, '--json', 'cluster', 'slots').catch(() => '')) || '[]') as [number, number, [string, number]][];
          const mastersLive = ranges.length > 0 && ranges.every(([, , [, port]]) => live.some((n) => n.port === port));
          if (mastersLive && states.every((s) => s.includes('cluster_state:ok') && /cluster_slots_ok:16384/.test(s))) return;
          if (i > 600) throw new Error(`Redis Cluster not ok after a minute: ${states.map((s) => s.split('\n')[0]).join(' ')}`);
          await sleep(100);
        }
      },
      stop,
    };
    await cluster.waitUntilOk();
    // Replicas must have joined their masters, or a killed master would have no one to take over.
    for (let i = 0; ; i++) {
      const roles = await Promise.all(nodes.map((n) => cli(n.port, 'info', 'replication')));
      if (roles.filter((r) => /role:slave/.test(r) && /master_link_status:up/.test(r)).length === 3) break;
      if (i > 600) throw new Error('Redis Cluster replicas did not sync within a minute');
      await sleep(100);
    }
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

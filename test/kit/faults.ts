import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';

/**
 * Real services that a test can take away and bring back: a dedicated redis-server on a free
 * port, and a TCP proxy in front of Postgres that can cut every connection and refuse or
 * black-hole new ones. No mocks: the server under test talks to the real thing through them.
 */

/** Whether a redis-server binary is on PATH (the Redis fault tests need one of their own). */
export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** A free TCP port on 127.0.0.1 (taken and released at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export type RedisProcess = {
  port: number;
  url: string;
  /** Starts redis-server on `port` (again, after stop) and waits until it answers. */
  start(): Promise<void>;
  /** Stops it (SIGKILL: as if the host went away; nothing persisted) and waits for the exit. */
  stop(): Promise<void>;
};

/** A redis-server of this test alone, without persistence, on a free port. */
export async function redisProcess(): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const rp: RedisProcess = {
    port,
    url: `redis://127.0.0.1:${port}`,
    start: async () => {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child!.stdout!.on('data', (d) => {
          out += String(d);
          if (out.includes('Ready to accept connections')) resolve();
        });
        child!.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
      });
    },
    stop: async () => {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGKILL');
      await exited;
    },
  };
  await rp.start();
  return rp;
}

/**
 * What the proxy does with a new connection: pass it to the target, refuse it (accepted and reset
 * at once: the client sees an error immediately), or black-hole it (accepted, never answered:
 * the client only gives up through its own timeout, as with a host that vanished).
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

export type TcpProxy = {
  port: number;
  /** Connections currently piped to the target. */
  readonly open: number;
  setMode(mode: ProxyMode): void;
  /** Cuts every open connection (both sides), as a Postgres restart or a network failure would. */
  cutAll(): void;
  close(): Promise<void>;
};

export async function tcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const pairs = new Set<[Socket, Socket | undefined]>();
  const server: Server = createServer((client) => {
    client.on('error', () => {});
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      // Held without an upstream; cutAll() or close() ends it.
      const pair: [Socket, Socket | undefined] = [client, undefined];
      pairs.add(pair);
      client.on('close', () => pairs.delete(pair));
      return;
    }
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => client.destroy());
    const pair: [Socket, Socket | undefined] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const cutAll = () => {
    for (const [client, upstream] of pairs) {
      client.resetAndDestroy();
      upstream?.resetAndDestroy();
    }
    pairs.clear();
  };
  return {
    port,
    get open() {
      return [...pairs].filter(([, upstream]) => upstream).length;
    },
    setMode: (m) => (mode = m),
    cutAll,
    close: async () => {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `url` with its host and port replaced by the proxy's. */
export function viaProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

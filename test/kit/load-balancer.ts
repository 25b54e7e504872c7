import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The example configuration shipped in docs/deploy/, which the load-balancer tests run as it is. */
export const HAPROXY_CONFIG = fileURLToPath(new URL('../../docs/deploy/haproxy.cfg', import.meta.url));

/** And docs/deploy/nginx.conf, run with the test's ports in place of its example addresses. */
export const NGINX_CONFIG = fileURLToPath(new URL('../../docs/deploy/nginx.conf', import.meta.url));

/** Debian installs them in /usr/sbin, which a user's PATH may lack. */
const sbin = (name: string) => (existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : name);
const HAPROXY = sbin('haproxy');
const NGINX = sbin('nginx');

/** Whether `binary` runs; under CI=true its absence fails the run (.ci/run installs it). */
async function available(binary: string, args: string[], debianPackage: string): Promise<boolean> {
  try {
    await run(binary, args);
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error(`CI=true needs ${binary} (Debian package ${debianPackage}) for the load-balancer tests`);
    return false;
  }
}

export const haproxyAvailable = () => available(HAPROXY, ['-v'], 'haproxy');
export const nginxAvailable = () => available(NGINX, ['-v'], 'nginx-light');

export type LoadBalancer = { url: string; wsUrl: string; process: ChildProcess; stop(): Promise<void> };

/** Waits until the balancer answers /ready through an instance; `child` exiting first is an error. */
async function running(child: ChildProcess, port: number, stderr: () => string, cleanup = async () => {}): Promise<LoadBalancer> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the load balancer exited with ${child.exitCode}: ${stderr()}`);
    const ready = await fetch(`http://${base}/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `http://${base}/graphql`,
    wsUrl: `ws://${base}/graphql`,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await cleanup();
    },
  };
}

/**
 * HAProxy in the foreground on `docs/deploy/haproxy.cfg`, listening on `port`, in front of the
 * instances on `instancePorts` (SB_INSTANCE_1, SB_INSTANCE_2, … as the file reads them).
 */
export async function startHaproxy(port: number, instancePorts: number[]): Promise<LoadBalancer> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', SB_LISTEN: `127.0.0.1:${port}` };
  instancePorts.forEach((p, i) => {
    env[`SB_INSTANCE_${i + 1}`] = `127.0.0.1:${p}`;
  });
  await run(HAPROXY, ['-c', '-q', '-f', HAPROXY_CONFIG], { env });
  const child = spawn(HAPROXY, ['-db', '-f', HAPROXY_CONFIG], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  return running(child, port, () => stderr);
}

/**
 * nginx in the foreground on docs/deploy/nginx.conf with `port` and `instancePorts` in place of
 * its example addresses, its pid file and temporary files in a directory of its own.
 */
export async function startNginx(port: number, instancePorts: number[]): Promise<LoadBalancer> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-nginx-'));
  let config = (await readFile(NGINX_CONFIG, 'utf8')).replace('listen 8080;', `listen 127.0.0.1:${port};`);
  const examples = ['10.0.0.11:4000', '10.0.0.12:4000'];
  if (instancePorts.length !== examples.length) throw new Error(`nginx.conf names ${examples.length} instances`);
  instancePorts.forEach((p, i) => {
    if (!config.includes(examples[i]!)) throw new Error(`nginx.conf no longer names ${examples[i]}`);
    config = config.replace(examples[i]!, `127.0.0.1:${p}`);
  });
  config = config.replace(
    'http {',
    `http {\n${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${join(dir, t)};`).join('\n')}`,
  );
  const file = join(dir, 'nginx.conf');
  await writeFile(file, config);
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const directives = `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr;`;
  await run(NGINX, ['-t', '-q', '-p', dir, '-c', file, '-g', directives]);
  const child = spawn(NGINX, ['-p', dir, '-c', file, '-g', directives], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  return running(child, port, () => stderr, cleanup);
}

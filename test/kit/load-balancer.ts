import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The example configuration shipped in docs/deploy/, which the load-balancer tests run as it is. */
export const HAPROXY_CONFIG = fileURLToPath(new URL('../../docs/deploy/haproxy.cfg', import.meta.url));

/** Debian installs it in /usr/sbin, which a user's PATH may lack. */
const HAPROXY = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';

/** Whether HAProxy is installed; under CI=true its absence fails the run (.ci/run installs it). */
export async function haproxyAvailable(): Promise<boolean> {
  try {
    await run(HAPROXY, ['-v']);
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('CI=true needs haproxy (Debian package haproxy) for the load-balancer tests');
    return false;
  }
}

export type LoadBalancer = { url: string; wsUrl: string; process: ChildProcess; stop(): Promise<void> };

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
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `127.0.0.1:${port}`;
  // Listening, and at least one instance in rotation: /ready answers through it.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${stderr}`);
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
    },
  };
}

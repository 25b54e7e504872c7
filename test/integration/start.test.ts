// `npm start` runs the service compiled to plain JavaScript (src/build.ts -> dist/): the compiled
// service finds its migrations, serves GraphQL and the web chat the build bundled, and stops on SIGTERM.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/jwt.js';
import { freePort } from '../kit/faults.js';
import { eventually } from '../kit/subscriptions.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BUILT_MARK = '<!-- built by npm run build -->\n';


/** `npm start`'s process, with what it wrote to stdout and stderr. */
function startCompiled(env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk) => (output.stdout += String(chunk)));
  child.stderr!.on('data', (chunk) => (output.stderr += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

describe('the compiled service (npm start)', () => {
  let child: ChildProcess;
  let output: { stdout: string; stderr: string };
  let port: number;
  let url: string;
  let dataDir: string;
  const secret = randomBytes(32).toString('hex');

  beforeAll(async () => {
    execFileSync(process.execPath, ['--import', 'tsx', 'src/build.ts'], { cwd: ROOT, stdio: 'pipe' });
    // Marks the built page, to tell it from one bundled by the server at start.
    appendFileSync(join(ROOT, 'dist', 'web', 'app', 'index.html'), BUILT_MARK);
    dataDir = mkdtempSync(join(tmpdir(), 'sb-start-'));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    ({ child, output } = startCompiled({ PORT: String(port), DATA_DIR: dataDir, JWT_SECRET: secret }));
    // Waits as long as the hook lets it: building and opening the database are slow on a loaded machine.
    for (;;) {
      const ready = await fetch(`${url}/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (child.exitCode !== null) throw new Error(`the compiled service exited before it was ready: ${output.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 180_000);
  afterAll(() => {
    child?.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints its URLs in one line on stderr, beside a stdout of JSON log lines', async () => {
    await eventually(() => output.stderr.includes('\n'));
    expect(output.stderr).toBe(`Switchboard is running: GraphQL ${url}/graphql, GraphiQL ${url}/graphql in a browser, web chat ${url}/\n`);
    const lines = output.stdout.split('\n').filter(Boolean);
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toContain('switchboard listening');
  });

  it('answers /ready with pub/sub in-process when no Redis is configured', async () => {
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', pubsub: 'in-process' } });
  });

  it('says which variable to change when its port is taken, and exits without a stack', async () => {
    const taken = startCompiled({ PORT: String(port), DATA_DIR: 'memory://', JWT_SECRET: secret });
    expect(await taken.exited).toBe(2);
    expect(taken.output.stderr).toBe(
      `switchboard cannot start: port ${port} on 127.0.0.1 is already in use. Set PORT to a free port (or HOST to another interface), or stop what is using it.\n`,
    );
    // It opens its database before it listens: that alone can take a while on a busy machine.
  }, 120_000);

  it('serves GraphQL and the web chat, and exits cleanly on SIGTERM', async () => {
    const token = await mintToken(secret, { sub: 'alice', name: 'Alice' });
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { id displayName } }' }),
    });
    expect(await response.json()).toEqual({ data: { viewer: { id: 'alice', displayName: 'Alice' } } });

    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script');
    // The page and its bundle are the files the build wrote to dist/web/app, served as they are.
    expect(html.endsWith(BUILT_MARK)).toBe(true);
    const js = Buffer.from(await (await fetch(`${url}/app.js`)).arrayBuffer());
    expect(js.equals(readFileSync(join(ROOT, 'dist', 'web', 'app', 'app.js')))).toBe(true);
    expect((await fetch(`${url}/app.css`)).status).toBe(200);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

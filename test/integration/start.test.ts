// `npm start` runs the service compiled to plain JavaScript (src/build.ts -> dist/): the compiled
// service finds its migrations and the web chat's sources, serves GraphQL, and stops on SIGTERM.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/jwt.js';
import { freePort } from '../kit/faults.js';

const ROOT = join(import.meta.dirname, '..', '..');


describe('the compiled service (npm start)', () => {
  let child: ChildProcess;
  let url: string;
  let dataDir: string;
  const secret = randomBytes(32).toString('hex');

  beforeAll(async () => {
    execFileSync(process.execPath, ['--import', 'tsx', 'src/build.ts'], { cwd: ROOT, stdio: 'pipe' });
    dataDir = mkdtempSync(join(tmpdir(), 'sb-start-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, JWT_SECRET: secret, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(`${url}/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('the compiled service did not become ready');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 60_000);
  afterAll(() => {
    child?.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

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
    expect(await page.text()).toContain('<script');

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

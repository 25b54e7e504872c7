// `npm start` runs the service compiled to plain JavaScript (src/build.ts -> dist/): the compiled
// service finds its migrations, serves GraphQL and the web chat the build bundled, and stops on SIGTERM.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../../src/auth/jwt.js';
import { type ServiceProcess, spawnService } from '../../kit/service-process.js';
import { eventually } from '../../kit/subscriptions.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const BUILT_MARK = '<!-- built by npm run build -->\n';

describe('the compiled service (npm start)', () => {
  let service: ServiceProcess;
  let port: number;
  let url: string;
  let dataDir: string;
  const secret = randomBytes(32).toString('hex');

  beforeAll(async () => {
    execFileSync(process.execPath, ['--import', 'tsx', 'src/build.ts'], { cwd: ROOT, stdio: 'pipe' });
    // Marks the built page, to tell it from one bundled by the server at start.
    appendFileSync(join(ROOT, 'dist', 'web', 'app', 'index.html'), BUILT_MARK);
    dataDir = mkdtempSync(join(tmpdir(), 'sb-start-'));
    service = spawnService({ NODE_ENV: 'development', DATA_DIR: dataDir, JWT_SECRET: secret }, 'compiled');
    // Ready once it logs that it listens (it has opened and migrated its database by then).
    port = await service.listening;
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(() => {
    service?.child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints its URLs in one line on stderr, beside a stdout of JSON log lines', async () => {
    await eventually(() => service.stderr().includes('\n'));
    expect(service.stderr()).toBe(`Switchboard is running: GraphQL ${url}/graphql, GraphiQL ${url}/graphql in a browser, web chat ${url}/\n`);
    expect(service.logs.map((line) => line.msg)).toContain('switchboard listening');
    expect(service.nonJson).toEqual([]);
  });

  it('answers /ready with pub/sub in-process when no Redis is configured', async () => {
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', pubsub: 'in-process' } });
  });

  it('says which variable to change when its port is taken, and exits without a stack', async () => {
    const taken = spawnService({ NODE_ENV: 'development', PORT: String(port), DATA_DIR: 'memory://', JWT_SECRET: secret }, 'compiled');
    expect(await taken.exited).toBe(2);
    expect(taken.stderr()).toBe(
      `switchboard cannot start: port ${port} on 127.0.0.1 is already in use. Set PORT to a free port (or HOST to another interface), or stop what is using it.\n`,
    );
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
    const html = await page.text();
    expect(html).toContain('<script');
    // The page and its bundle are the files the build wrote to dist/web/app, served as they are.
    expect(html.endsWith(BUILT_MARK)).toBe(true);
    const js = Buffer.from(await (await fetch(`${url}/app.js`)).arrayBuffer());
    expect(js.equals(readFileSync(join(ROOT, 'dist', 'web', 'app', 'app.js')))).toBe(true);
    expect((await fetch(`${url}/app.css`)).status).toBe(200);

    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
  });
});

// One process at a time on an embedded database (PGlite in DATA_DIR): a second server, and the
// apikey command, refuse a folder in use with one line saying what to do; a server killed with
// SIGKILL leaves a lock that the next start takes over. Real processes on a temporary DATA_DIR.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../../src/auth/jwt.js';
import { CreateConversationDocument, MessagesDocument, SendMessageDocument } from '../../../src/client/generated/graphql.js';
import { type ServiceProcess, spawnService } from '../../kit/service-process.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const run = promisify(execFile);

describe('an embedded DATA_DIR', () => {
  let dataDir: string;
  let env: Record<string, string>;
  const started: ServiceProcess[] = [];
  const secret = randomBytes(32).toString('hex');

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-lock-'));
    env = { DATA_DIR: dataDir, JWT_SECRET: secret };
  });
  afterAll(() => {
    for (const service of started) if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = () => {
    const service = spawnService(env);
    started.push(service);
    return service;
  };
  const gql = async (port: number, token: string, query: string, variables: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  };
  /** `npm run apikey -- …` as the script runs it, on the same DATA_DIR; never rejects. */
  const apikey = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/apikey.ts', ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env } }).then(
      (out) => ({ code: 0, ...out }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  it('is refused to a second process while a server has it, and taken over after that server is killed', async () => {
    const first = start();
    const port = await first.listening;
    const alice = await mintToken(secret, { sub: 'alice' });
    const created = await gql(port, alice, print(CreateConversationDocument), { input: { type: 'GROUP', name: 'kept' } });
    const conversationId = created.data!.createConversation.id as string;
    expect((await gql(port, alice, print(SendMessageDocument), { input: { conversationId, content: 'acknowledged' } })).errors).toBeUndefined();

    // A second server exits at once with one line naming the folder and the process that has it.
    const second = start();
    const outcome = await Promise.race([
      second.exited.then((code) => `exited with ${code}`),
      second.listening.then(
        (p) => `listening on ${p}`,
        () => new Promise<string>(() => {}),
      ),
    ]);
    expect(outcome).toBe('exited with 1');
    expect(second.stderr().trim()).toBe(`DATA_DIR ${dataDir} is in use by process ${first.child.pid}; stop it or set DATA_DIR/DATABASE_URL`);

    // So does the apikey command, saying to stop the server; and it writes nothing.
    const refused = await apikey('create', '--name', 'while-running');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`DATA_DIR ${dataDir} is in use by process ${first.child.pid}`);
    expect(refused.stderr).toContain('stop the server first');
    expect(refused.stdout).toBe('');

    // The first server still serves, its data its own.
    const history = await gql(port, alice, print(MessagesDocument), { conversationId });
    expect(history.data!.messages.nodes).toHaveLength(1);

    // Killed outright, it leaves its lock behind: the next start takes it over and has the message.
    first.child.kill('SIGKILL');
    await first.exited;
    const third = start();
    const thirdPort = await third.listening;
    const after = await gql(thirdPort, alice, print(MessagesDocument), { conversationId });
    expect(after.data!.messages.nodes).toHaveLength(1);

    // Stopped cleanly, it releases the folder: the apikey command works.
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    const created2 = await apikey('create', '--name', 'after-stop');
    expect(created2.code, created2.stderr).toBe(0);
    expect(created2.stdout.trim()).toMatch(/^sbk_/);
  });
});

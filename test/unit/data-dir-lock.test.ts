// The lock on an embedded DATA_DIR: who counts as holding it, and when a lock left behind is taken over.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirInUseError, LOCK_FILE, type LockHolder, lockDataDir } from '../../src/db/data-dir-lock.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('lockDataDir', () => {
  let dir: string;
  const lockPath = () => join(dir, LOCK_FILE);
  const holder = () => JSON.parse(readFileSync(lockPath(), 'utf8')) as LockHolder;
  /** A lock file as another process would have left it, starting from this process's own. */
  const leave = (change: Partial<LockHolder>) => {
    const release = lockDataDir(dir);
    const mine = holder();
    release();
    writeFileSync(lockPath(), JSON.stringify({ ...mine, token: 'someone-else', ...change }));
  };
  const refusedBy = (): LockHolder | null => {
    try {
      lockDataDir(dir)();
      return null;
    } catch (err) {
      if (err instanceof DataDirInUseError) return err.holder;
      throw err;
    }
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-lock-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is held until released, also against this process, and leaves nothing behind', () => {
    const release = lockDataDir(dir);
    expect(holder().pid).toBe(process.pid);
    expect(() => lockDataDir(dir)).toThrow(`DATA_DIR ${dir} is in use by process ${process.pid}; stop it or set DATA_DIR/DATABASE_URL`);
    release();
    release();
    expect(existsSync(lockPath())).toBe(false);
    lockDataDir(dir)();
  });

  it('is taken over from a process that is gone', () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    leave({ pid: gone });
    expect(refusedBy()).toBeNull();
  });

  it('is taken over from a lock naming this pid that this process did not take (a restarted container)', () => {
    leave({});
    expect(refusedBy()).toBeNull();
  });

  it('is taken over from a lock whose file names no holder', () => {
    writeFileSync(lockPath(), 'garbage');
    expect(refusedBy()).toBeNull();
  });

  it('is refused while a lock names another host, which cannot be checked', () => {
    leave({ host: 'elsewhere' });
    expect(refusedBy()).toMatchObject({ host: 'elsewhere' });
    expect(() => lockDataDir(dir)).toThrow(/in use by process \d+ on elsewhere;/);
  });

  it.runIf(process.platform === 'linux')('is taken over when the pid lives but started at another time (reused), or before a reboot', () => {
    leave({ pid: process.ppid, startTicks: '1' });
    expect(refusedBy()).toBeNull();
    leave({ pid: process.ppid, bootId: 'another-boot' });
    expect(refusedBy()).toBeNull();
  });

  it('is refused while another process holds it, and taken over once that process is killed', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import('./src/db/data-dir-lock.ts').then((m) => { m.lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000); })`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk) => String(chunk).includes('locked') && resolve());
        child.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
      });
      expect(refusedBy()).toMatchObject({ pid: child.pid });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(holder().pid).toBe(child.pid);
    expect(refusedBy()).toBeNull();
  });
});

import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * One process at a time in an embedded database's folder. PGlite writes a postmaster.pid but does
 * not enforce it: two processes on the same files each see only their own writes, and one side's
 * acknowledged messages are gone after a restart. So the first process to open DATA_DIR puts a
 * lock file in it naming itself, and any other refuses to open it while that process lives.
 *
 * The file is created whole and atomically (written under a name of its own with O_EXCL, then
 * hard-linked to the lock's name, which fails if it exists; without hard links, created with
 * O_EXCL under the lock's name). It is removed when the database is closed or the process exits.
 * A process killed outright (SIGKILL, a crash) leaves it behind; the next one takes it over once
 * it finds the holder gone: no process with that pid, or one that started at another time (the
 * pid was reused), or a reboot since. A lock written on another host (a folder shared between
 * machines or containers) cannot be checked and is taken as held.
 */
export const LOCK_FILE = 'switchboard.lock';

/** What a lock file says about its holder. */
export type LockHolder = {
  pid: number;
  host: string;
  /** Linux: the kernel's boot id, to tell a lock from before a reboot. */
  bootId: string | null;
  /** Linux: when the process started, in clock ticks since boot (/proc/<pid>/stat), to tell a reused pid. */
  startTicks: string | null;
  /** Tells this holder's file from any other, also one of the same process. */
  token: string;
};

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
    super(`DATA_DIR ${dataDir} is in use by process ${holder.pid}${where}; stop it or set DATA_DIR/DATABASE_URL`);
  }
}

/** Tokens of the locks this process holds: a lock naming this pid with another token is stale. */
const held = new Set<string>();

/**
 * Takes the lock of `dataDir` (which must exist) or throws DataDirInUseError; returns its release,
 * which may be called more than once.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, host: hostname(), bootId: bootId(), startTicks: startTicks(process.pid), token: randomBytes(16).toString('hex') };
  const text = `${JSON.stringify(me)}\n`;
  const draft = `${path}.${me.token}`;
  writeFileSync(draft, text, { flag: 'wx', mode: 0o600 });
  try {
    // A few rounds: each either takes the lock, refuses, or clears a stale file and tries again.
    for (let round = 0; round < 5; round++) {
      try {
        create(path, draft, text);
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') throw err;
        const found = read(path);
        if (found === null) continue; // removed meanwhile
        const holder = parse(found);
        if (holder && alive(holder)) throw new DataDirInUseError(dataDir, holder);
        removeStale(path, found, me.token);
        continue;
      }
      held.add(me.token);
      const release = () => {
        if (!held.delete(me.token)) return;
        process.off('exit', release);
        // Only our own file: never one that took over after this process was thought gone.
        if (read(path) === text) unlinkQuietly(path);
      };
      // Sync, so that it runs on process.exit() too (a failed start, the CLI's end).
      process.on('exit', release);
      return release;
    }
    throw new Error(`could not take the lock ${path}: it keeps changing`);
  } finally {
    unlinkQuietly(draft);
  }
}

/** Creates the lock file from the draft; EEXIST if there is one. */
function create(path: string, draft: string, text: string): void {
  try {
    linkSync(draft, path);
  } catch (err) {
    // A file system without hard links (FAT, some network mounts): O_EXCL on the lock itself.
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(errorCode(err) ?? '')) throw err;
    writeFileSync(path, text, { flag: 'wx', mode: 0o600 });
  }
}

/** Whether the holder may still be running (when it cannot be told, it is taken as running). */
function alive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  const boot = bootId();
  if (holder.bootId && boot && holder.bootId !== boot) return false;
  // This pid is this process: the lock is alive only if this process took it.
  if (holder.pid === process.pid) return held.has(holder.token);
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the process exists, under another user.
    if (errorCode(err) === 'ESRCH') return false;
  }
  const now = startTicks(holder.pid);
  return !(holder.startTicks && now && holder.startTicks !== now);
}

/**
 * Removes a stale lock file whose content was `stale`. It is moved aside first: if what was moved
 * is not that file (another process took the lock meanwhile), it is put back.
 */
function removeStale(path: string, stale: string, token: string): void {
  const aside = `${path}.stale.${token}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  const moved = read(aside);
  if (moved !== null && moved !== stale) {
    try {
      create(path, aside, moved);
    } catch {
      // Yet another process holds the lock now; the next round reads it.
    }
  }
  unlinkQuietly(aside);
}

function parse(text: string): LockHolder | null {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string' || typeof value.token !== 'string') return null;
    return { pid: value.pid, host: value.host, bootId: value.bootId ?? null, startTicks: value.startTicks ?? null, token: value.token };
  } catch {
    // Not a lock this code wrote (or a torn file): it names no holder.
    return null;
  }
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** Linux only: field 22 of /proc/<pid>/stat, counted after the command name (which may hold spaces). */
function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

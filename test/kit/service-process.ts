// The service as its own process, as deployed: src/main.ts, run from source through tsx (building
// dist/ here would race operations/npm-start.test.ts, which deletes and rewrites it), with its JSON log lines and
// its stderr collected.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A log line of the service (pino JSON); every line carries the pid of the process that wrote it. */
export type LogLine = { msg?: string; pid?: number; [field: string]: unknown };

export type ServiceProcess = {
  child: ChildProcess;
  /** Its log lines, parsed, as they arrive. */
  logs: LogLine[];
  /** Lines on stdout that are not JSON (there should be none: stdout is the log). */
  nonJson: string[];
  /** What it has written to stderr so far. */
  stderr(): string;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** The port of its first "switchboard listening" line; rejects if it exits before. */
  listening: Promise<number>;
};

/** The service from source (the default), or as `npm start` runs it once built. */
const ENTRIES = { source: ['--import', 'tsx', 'src/main.ts'], compiled: ['dist/main.js'] };

/**
 * Starts the service with `env` over a bare environment (PATH only, so nothing of the caller's
 * shell, such as a REDIS_URL, leaks in), on 127.0.0.1 and any free port unless `env` says.
 */
export function spawnService(env: Record<string, string>, entry: keyof typeof ENTRIES = 'source'): ServiceProcess {
  const child = spawn(process.execPath, ENTRIES[entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const nonJson: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<number>((resolve, reject) => {
    let pending = '';
    child.stdout!.on('data', (chunk) => {
      const lines = (pending + String(chunk)).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line) continue;
        let entry: LogLine;
        try {
          entry = JSON.parse(line) as LogLine;
        } catch {
          nonJson.push(line);
          continue;
        }
        logs.push(entry);
        if (entry.msg === 'switchboard listening') resolve(entry.port as number);
      }
    });
    void exited.then((code) => reject(new Error(`the service exited with ${code}: ${stderr}`)));
  });
  // Callers that never wait for it (a service meant to refuse to start) leave no unhandled rejection.
  listening.catch(() => {});
  return { child, logs, nonJson, stderr: () => stderr, exited, listening };
}

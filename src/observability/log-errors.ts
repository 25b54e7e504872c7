import { GraphQLError } from 'graphql';
import { isPgError, pgErrorCode } from '../lib/pg-errors.js';

/**
 * What a log line may tell of an error. A database error arrives wrapped by drizzle, whose message
 * holds the statement and every parameter (message texts, metadata), and the driver's error may
 * quote a value in its message, detail or context. So: the Postgres code, severity, constraint,
 * table, column and routine, the statement's first words (it is parameterized: no values), the
 * driver's message with quoted parts blanked, and stack frames without the message they start
 * with. Any other error keeps its message. Nested causes are told the same way.
 */
export function serializeError(err: unknown): unknown {
  return describe(err, 0);
}

/** The same in one line, for the log lines that carry an error as text (`{ err: errorMessage(err) }`). */
export function errorMessage(err: unknown): string {
  const line = (d: Described | string | undefined): string => {
    if (d === undefined || typeof d === 'string') return d ?? '';
    const details = [d.code, d.constraint, d.statement && `in ${d.statement}`].filter(Boolean).join(' ');
    const own = details ? `${d.message} (${details})` : d.message;
    return d.cause === undefined ? own : `${own}: ${line(d.cause)}`;
  };
  return line(describe(err, 0));
}

type Described = {
  type: string;
  message: string;
  code?: string;
  severity?: string;
  constraint?: string;
  table?: string;
  column?: string;
  dataType?: string;
  routine?: string;
  statement?: string;
  stack?: string;
  cause?: Described | string;
};

const MAX_DEPTH = 5;
const STATEMENT_CHARACTERS = 100;
/** Fields of a driver's error (pg's DatabaseError, PGlite's) that name things, never values. */
const NAMING_FIELDS = ['severity', 'constraint', 'table', 'column', 'dataType', 'routine'] as const;

function describe(err: unknown, depth: number): Described | string | undefined {
  if (typeof err === 'string') return withoutParameters(err);
  if (!err || typeof err !== 'object') return err === undefined ? undefined : String(err);
  // A GraphQL error around an error of ours repeats its message: the error itself tells it.
  if (err instanceof GraphQLError && err.originalError && err.message === err.originalError.message) return describe(err.originalError, depth);
  const e = err as Record<string, unknown>;
  const query = typeof e.query === 'string' ? e.query : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const fromDatabase = query !== undefined || isPgError(e);
  const message = typeof e.message === 'string' ? e.message : String(err);
  const out: Described = {
    type: typeof e.name === 'string' && e.name.toLowerCase() !== 'error' ? e.name : (e.constructor as { name?: string } | undefined)?.name || 'Error',
    // drizzle's message is the statement and its parameters; the driver's may quote a value.
    message: query !== undefined && message.startsWith('Failed query') ? 'Failed query' : fromDatabase ? blankQuoted(message) : withoutParameters(message),
  };
  if (code !== undefined) out.code = code;
  if (fromDatabase) {
    for (const field of NAMING_FIELDS) if (typeof e[field] === 'string') out[field] = e[field] as string;
  }
  if (query !== undefined) out.statement = firstWords(query);
  if (typeof e.stack === 'string') {
    const frames = e.stack.split('\n').filter((line) => /^\s+at /.test(line));
    if (frames.length) out.stack = frames.join('\n');
  }
  const cause = err instanceof GraphQLError ? err.originalError : e.cause;
  if (cause !== undefined && cause !== null && depth < MAX_DEPTH) out.cause = describe(cause, depth + 1);
  // The Postgres code where one looks first, whatever wraps the driver's error.
  if (out.code === undefined) {
    const sqlState = pgErrorCode(err);
    if (sqlState) out.code = sqlState;
  }
  return out;
}

/** A statement's start, whitespace folded: enough to tell which one failed. */
const firstWords = (sql: string) => {
  const folded = sql.replace(/\s+/g, ' ').trim();
  return folded.length > STATEMENT_CHARACTERS ? `${folded.slice(0, STATEMENT_CHARACTERS)}…` : folded;
};

/** Postgres quotes values (and names) in its messages: `invalid input syntax for type uuid: "…"`. */
const blankQuoted = (message: string) => message.replace(/"(?:[^"]|"")*"/g, '"…"');

/** drizzle's "Failed query: <sql>\nparams: <values>", as text (its `message` logged alone). */
const withoutParameters = (text: string) => {
  const failed = /^Failed query: ([\s\S]*?)\nparams: [\s\S]*$/.exec(text);
  return failed ? `Failed query: ${firstWords(failed[1]!)}` : text;
};

/**
 * Database ceilings: the statements the service sends for Q1 and M1, straight through `pg` at the
 * same concurrency and pool size, as named prepared statements like the server's:
 *  - query (Q1 ceiling): MessageHistory's page statement, one per request: the newest 50 (+1)
 *    messages with their senders (joined), the participant check an EXISTS inside it.
 *  - insert (M1 ceiling): MessageRepository.insertNext's statement, one message per statement:
 *    participation and replyTo checks, the conversation's seq bump and the INSERT. The server also
 *    stores concurrent sends together (group commit, up to 64 per statement); that is deliberately
 *    not modelled here, so the server can exceed this ceiling.
 *
 * Both statements, their names and their parameters come from the server's own code, so their SQL
 * cannot drift from what the server sends; the values filled in here (the page's 50 + 1, the
 * newest-first shape, the message fields) are this file's and follow Q1's and M1's requests.
 *  - replay (SR1, RX1 ceilings): statements recorded from the server while it answered one request
 *    (server-preload's recordStart/recordStop), sent again as they were, with the request's own
 *    values (viewer, message or query, emoji) put in; a recording that holds BEGIN runs on one
 *    connection, as the server's transaction does.
 */
import { randomUUID } from 'node:crypto';
import { fillPlaceholders } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { ROW_TYPES } from '../../../src/db/client.js';
import { INSERT_BATCH_STATEMENT, insertBatchQuery, insertBatchValues } from '../../../src/modules/messages/message.repository.js';
import { pageStatement } from '../../../src/modules/messages/message-history.repository.js';
import { type ClosedResult, closedLoops } from '../lib/closed-loop.js';
import { benchEmoji } from '../lib/queries.js';
import { serveRpc } from '../lib/rpc.js';

const WORKER = process.env.BENCH_WORKER ?? 'pg';

type PgLoop = { cls: string; userId: string; conversations: string[] };
/** A recorded value, or the name of what each operation puts in its place. */
export type ReplayValue = unknown | { $: 'user' | 'target' | 'emoji' };
export type ReplayStatement = { text: string; name?: string; rowMode?: string; values?: ReplayValue[]; mustReturnRows?: boolean };
type Params = {
  databaseUrl: string;
  poolMax: number;
  kind: 'insert' | 'query' | 'replay';
  orgId: string;
  loops: PgLoop[];
  warmupMs: number;
  durationMs: number;
  /** replay: the statements of one request. */
  statements?: ReplayStatement[];
  /** replay: each loop walks its targets in order, the emoji changing every round (RX1: every reaction new). */
  sequence?: boolean;
};

/** MessageHistory's statement for `last: n` without cursors or filters, as the server builds it. */
const PAGE = pageStatement({
  forward: false,
  after: false,
  before: false,
  since: false,
  until: false,
  topLevel: false,
  senderId: false,
  priority: false,
  kind: false,
  thread: false,
});

/** MessageRepository's send statement, as the server builds it. */
const INSERT = insertBatchQuery(drizzle.mock()).toSQL();

async function run(p: Params): Promise<ClosedResult> {
  // In UTC sessions, as the server's pool opens them (src/db/client.ts).
  const db = new pg.Pool({ connectionString: p.databaseUrl, max: p.poolMax, options: '-c TimeZone=UTC' });

  // Rows as arrays, as the server asks pg for them (drizzle's own mapping is the server's cost).
  const insert = async (loop: PgLoop, c: string, li: number, n: number) => {
    // The values sendMessage gives for a plain chat message, as a batch of one.
    const message = {
      id: randomUUID(),
      conversationId: c,
      orgId: p.orgId,
      senderId: loop.userId,
      senderKind: 'USER' as const,
      content: `ceiling message ${n} loop ${li}`,
      contentType: 'text/plain',
      kind: 'CHAT' as const,
      priority: 'NORMAL' as const,
      interruptible: false,
      clientMessageId: `${WORKER}-${li}-${n}-${Date.now()}`,
    };
    const values = fillPlaceholders(INSERT.params, insertBatchValues([{ message, senderMustParticipate: true }]));
    const res = await db.query({ name: INSERT_BATCH_STATEMENT, text: INSERT.sql, rowMode: 'array', values });
    if (res.rowCount !== 1) throw new Error('not stored (not a participant?)');
  };
  const query = async (loop: PgLoop, c: string) => {
    const values = fillPlaceholders(PAGE.params, { orgId: p.orgId, conversationId: c, userId: loop.userId, limit: 51 });
    // Decoded as the server has the driver decode a page (ROW_TYPES, Database.queryRows).
    const page = await db.query({ name: PAGE.name, text: PAGE.sql, rowMode: 'array', types: ROW_TYPES, values });
    // The server reads further only for an empty page; every seeded conversation has history.
    if (page.rowCount === 0) throw new Error('empty page (not a participant?)');
  };

  const steps = new Map<number, number>();
  const replay = async (loop: PgLoop, random: string, li: number) => {
    const k = steps.get(li) ?? 0;
    steps.set(li, k + 1);
    const target = p.sequence ? loop.conversations[k % loop.conversations.length]! : random;
    const fill = { user: loop.userId, target, emoji: benchEmoji(Math.floor(k / loop.conversations.length)) };
    const statements = p.statements!;
    const transactional = statements.some((st) => /^\s*begin\b/i.test(st.text));
    const client = transactional ? await db.connect() : db;
    try {
      for (const st of statements) {
        const values = st.values?.map((v) => (v && typeof v === 'object' && '$' in v ? fill[(v as { $: keyof typeof fill }).$] : v));
        const config = { name: st.name, text: st.text, values, types: ROW_TYPES };
        const res = st.rowMode === 'array' ? await client.query({ ...config, rowMode: 'array' as const }) : await client.query(config);
        if (st.mustReturnRows && !res.rowCount) throw new Error(`no rows from ${st.text.slice(0, 80)}`);
      }
    } catch (err) {
      if (transactional) await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      if (transactional) (client as pg.PoolClient).release();
    }
  };

  try {
    return await closedLoops(p.loops, p, (loop, c, li, n) =>
      p.kind === 'insert' ? insert(loop, c, li, n) : p.kind === 'query' ? query(loop, c) : replay(loop, c, li),
    );
  } finally {
    await db.end();
  }
}

serveRpc({ run });

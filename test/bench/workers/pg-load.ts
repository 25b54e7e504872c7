/**
 * Database ceilings: the statements the service sends for Q1 and M1, straight through `pg` at the
 * same concurrency and pool size, as named prepared statements like the server's:
 *  - query (Q1 ceiling): MessageHistory's page statement, one per request: the newest 50 (+1)
 *    messages with their senders (LEFT JOIN users), the participant check an EXISTS inside it.
 *  - insert (M1 ceiling): MessageRepository.insertNext's statement, one message per statement:
 *    participation and replyTo checks, the conversation's seq bump and the INSERT. The server also
 *    stores concurrent sends together (group commit, up to 64 per statement); that is deliberately
 *    not modelled here, so the server can exceed this ceiling.
 *
 * The page statement is built by the server's own code. The insert's SQL is the text drizzle
 * generates for it (printed once with `.toSQL()`), whitespace aside: keep it in step when
 * MessageRepository's statement changes.
 */
import { randomUUID } from 'node:crypto';
import { fillPlaceholders } from 'drizzle-orm';
import pg from 'pg';
import { pageStatement } from '../../../src/modules/messages/message-history.js';
import { serveRpc } from '../lib/rpc.js';
import { closedLoops, type ClosedResult } from '../lib/closed-loop.js';

const WORKER = process.env.BENCH_WORKER ?? 'pg';

type PgLoop = { cls: string; userId: string; conversations: string[] };
type Params = { databaseUrl: string; poolMax: number; kind: 'insert' | 'query'; orgId: string; loops: PgLoop[]; warmupMs: number; durationMs: number };

/** MessageHistory's statement for `last: n` without cursors or filters, as the server builds it. */
const PAGE = pageStatement(
  { forward: false, after: false, before: false, since: false, senderId: false, priority: false, kind: false },
  'message_history_0000000',
);

/**
 * MessageRepository's insert statement (see prepareInsertBatch there). Parameters: one array per
 * given column ($1-$19, sent as text[]), the participation flags ($20), then the column defaults
 * drizzle inlines as parameters ($21-$24).
 */
const INSERT = {
  name: 'insert_messages',
  text: `with "queued" as (select * from unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]::text[], $4::text[]::text[],
      $5::text[]::actor_kind[], $6::text[]::text[], $7::text[]::text[], $8::text[]::message_kind[], $9::text[]::uuid[],
      $10::text[]::message_priority[], $11::text[]::boolean[], $12::text[]::uuid[], $13::text[]::text[], $14::text[]::text[],
      $15::text[]::jsonb[], $16::text[]::text[], $17::text[]::timestamp with time zone[], $18::text[]::timestamp with time zone[],
      $19::text[]::timestamp with time zone[],
      $20::boolean[])
      with ordinality as q("id", "conversation_id", "org_id", "sender_id", "sender_kind", "content", "content_type", "kind",
        "reply_to_id", "priority", "interruptible", "preempted_by", "run_id", "trace_id", "metadata", "client_message_id",
        "created_at", "edited_at", "deleted_at", sender_must_participate, ord)),
    "allowed" as (select q.*, row_number() over (partition by q.conversation_id order by q.ord) as nth
      from queued q join "conversations" c on c.id = q.conversation_id and c.org_id = q.org_id
      where (not q.sender_must_participate
             or exists (select 1 from "participants" p where p.conversation_id = q.conversation_id and p.user_id = q.sender_id))
        and (q.reply_to_id is null
             or exists (select 1 from "messages" r where r.id = q.reply_to_id and r.conversation_id = q.conversation_id))),
    "locked" as (select c.id, counted.n from "conversations" c
      join (select conversation_id, count(*)::int as n from allowed group by conversation_id) counted on counted.conversation_id = c.id
      order by c.id for no key update of c),
    "bumped" as (update "conversations" c set last_seq = c.last_seq + locked.n, last_activity_at = now()
      from locked where c.id = locked.id
      returning c.id, c.last_seq - locked.n as seq_before)
  insert into "messages" ("id", "conversation_id", "org_id", "seq", "sender_id", "sender_kind", "content", "content_type", "kind",
    "reply_to_id", "priority", "interruptible", "preempted_by", "run_id", "trace_id", "metadata", "client_message_id",
    "created_at", "edited_at", "deleted_at")
  select coalesce(a."id", gen_random_uuid()), a."conversation_id", a."org_id", b.seq_before + a.nth, a."sender_id", a."sender_kind",
    a."content", coalesce(a."content_type", $21), coalesce(a."kind", $22), a."reply_to_id", coalesce(a."priority", $23),
    coalesce(a."interruptible", $24), a."preempted_by", a."run_id", a."trace_id", a."metadata", a."client_message_id",
    coalesce(a."created_at", now()), a."edited_at", a."deleted_at"
  from allowed a join bumped b on b.id = a.conversation_id
  returning "id", "conversation_id", "org_id", "seq", "sender_id", "sender_kind", "content", "content_type", "kind", "reply_to_id",
    "priority", "interruptible", "preempted_by", "run_id", "trace_id", "metadata", "client_message_id", "created_at", "edited_at",
    "deleted_at"`,
};

async function run(p: Params): Promise<ClosedResult> {
  const db = new pg.Pool({ connectionString: p.databaseUrl, max: p.poolMax });

  // Rows as arrays, as the server asks pg for them (drizzle's own mapping is the server's cost).
  const insert = async (loop: PgLoop, c: string, li: number, n: number) => {
    // The values sendMessage gives for a plain chat message, as a batch of one.
    const res = await db.query({
      ...INSERT,
      rowMode: 'array',
      values: [
        [randomUUID()], [c], [p.orgId], [loop.userId], ['USER'], [`ceiling message ${n} loop ${li}`], ['text/plain'], ['CHAT'],
        [null], ['NORMAL'], [false], [null], [null], [null], [null], [`${WORKER}-${li}-${n}-${Date.now()}`], [null], [null], [null],
        [true],
        'text/plain', 'CHAT', 'NORMAL', false,
      ],
    });
    if (res.rowCount !== 1) throw new Error('not stored (not a participant?)');
  };
  const query = async (loop: PgLoop, c: string) => {
    const values = fillPlaceholders(PAGE.params, { orgId: p.orgId, conversationId: c, userId: loop.userId, limit: 51 });
      const page = await db.query({ name: PAGE.name, text: PAGE.sql, rowMode: 'array', values });
    // The server reads further only for an empty page; every seeded conversation has history.
    if (page.rowCount === 0) throw new Error('empty page (not a participant?)');
  };

  try {
    return await closedLoops(p.loops, p, (loop, c, li, n) => (p.kind === 'insert' ? insert(loop, c, li, n) : query(loop, c)));
  } finally {
    await db.end();
  }
}

serveRpc({ run });

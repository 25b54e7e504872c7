/**
 * Database ceilings, straight through `pg` with the statements the service issues, same
 * concurrency and pool size:
 *  - insert (M1 ceiling): BEGIN; UPDATE conversations SET last_seq = last_seq + 1 ... RETURNING;
 *    INSERT INTO messages ... ON CONFLICT DO NOTHING RETURNING *; COMMIT
 *  - insert-1rt (diagnostic): the same send as one statement, participant check included
 *  - query (Q1 ceiling): the participant check, the page of 50 (+1) newest messages, the senders.
 */
import pg from 'pg';
import { serveRpc } from '../lib/rpc.js';
import { Samples, sleep } from '../lib/stats.js';
import type { ClosedResult } from './http-load.js';

const WORKER = process.env.BENCH_WORKER ?? 'pg';

type PgLoop = { cls: string; userId: string; conversations: string[] };
type Params = { databaseUrl: string; poolMax: number; kind: 'insert' | 'insert-1rt' | 'query'; orgId: string; loops: PgLoop[]; warmupMs: number; durationMs: number };

const UPDATE = `UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = now() WHERE id = $1 RETURNING last_seq`;
const INSERT = `INSERT INTO messages (conversation_id, org_id, sender_id, sender_kind, content, content_type, kind, reply_to_id,
  priority, interruptible, run_id, trace_id, metadata, client_message_id, seq)
  VALUES ($1, $2, $3, 'USER', $4, 'text/plain', 'CHAT', NULL, 'NORMAL', false, NULL, NULL, NULL, $5, $6)
  ON CONFLICT (conversation_id, sender_id, client_message_id) DO NOTHING RETURNING *`;
/**
 * What a send could cost in one round trip: participant check, seq bump and insert in one
 * statement (one implicit transaction; the row lock is held only inside Postgres). A duplicate
 * clientMessageId raises 23505 and rolls the bump back with it.
 */
const SEND_ONE_STATEMENT = `WITH bumped AS (
    UPDATE conversations c SET last_seq = c.last_seq + 1, last_activity_at = now()
      FROM participants p
     WHERE c.id = $1 AND c.org_id = $2 AND p.conversation_id = c.id AND p.user_id = $3
    RETURNING c.last_seq)
  INSERT INTO messages (conversation_id, org_id, sender_id, sender_kind, content, content_type, kind, priority, interruptible, client_message_id, seq)
  SELECT $1, $2, $3, 'USER', $4, 'text/plain', 'CHAT', 'NORMAL', false, $5, last_seq FROM bumped
  RETURNING *`;
const ACCESS = `SELECT c.*, p.* FROM conversations c
  LEFT JOIN participants p ON p.conversation_id = c.id AND p.user_id = $2
  WHERE c.id = $1 AND c.org_id = $3`;
const PAGE = `SELECT * FROM messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 51`;
const USERS = `SELECT * FROM users WHERE org_id = $1 AND id = ANY($2::text[])`;

async function run(p: Params): Promise<ClosedResult> {
  const db = new pg.Pool({ connectionString: p.databaseUrl, max: p.poolMax });
  const samples = new Map<string, Samples>();
  const ok: Record<string, number> = {};
  for (const l of p.loops) {
    samples.set(l.cls, samples.get(l.cls) ?? new Samples());
    ok[l.cls] = 0;
  }
  let okTotal = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  const t0 = performance.now();
  const measureFrom = t0 + p.warmupMs;
  const until = measureFrom + p.durationMs;
  let counter = 0;

  const insert = async (loop: PgLoop, c: string, li: number) => {
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      const bumped = await client.query(UPDATE, [c]);
      const n = counter++;
      await client.query(INSERT, [c, p.orgId, loop.userId, `ceiling message ${n} loop ${li}`, `${WORKER}-${li}-${n}-${Date.now()}`, bumped.rows[0].last_seq]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  };
  const insertOneStatement = async (loop: PgLoop, c: string, li: number) => {
    const n = counter++;
    const res = await db.query(SEND_ONE_STATEMENT, [c, p.orgId, loop.userId, `ceiling message ${n} loop ${li}`, `${WORKER}-${li}-${n}-${Date.now()}`]);
    if (res.rowCount !== 1) throw new Error('not a participant');
  };
  const query = async (loop: PgLoop, c: string) => {
    const access = await db.query(ACCESS, [c, loop.userId, p.orgId]);
    if (!access.rows[0]) throw new Error('not a participant');
    const page = await db.query(PAGE, [c]);
    const senders = [...new Set(page.rows.map((r: { sender_id: string }) => r.sender_id))];
    await db.query(USERS, [p.orgId, senders]);
  };

  await Promise.all(
    p.loops.map(async (loop, li) => {
      const s = samples.get(loop.cls)!;
      for (;;) {
        const start = performance.now();
        if (start >= until) return;
        const c = loop.conversations[(Math.random() * loop.conversations.length) | 0]!;
        try {
          if (p.kind === 'insert') await insert(loop, c, li);
          else if (p.kind === 'insert-1rt') await insertOneStatement(loop, c, li);
          else await query(loop, c);
          const end = performance.now();
          okTotal++;
          if (start >= measureFrom && end <= until) {
            s.push(end - start);
            ok[loop.cls]!++;
          }
        } catch (err) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(String(err));
          await sleep(5);
        }
      }
    }),
  );
  await db.end();
  const latencies: Record<string, Float64Array> = {};
  for (const [k, s] of samples) latencies[k] = s.take();
  return { ok, latencies, okTotal, errors, errorSamples, windowMs: p.durationMs };
}

serveRpc({ run });

/**
 * The reference system for fan-out: Socket.IO 4 with `@socket.io/redis-adapter`, written as a chat
 * server on that stack would be. A socket joins the room named in its handshake (`auth.room`).
 * POST /publish {room, message} (the ceiling's body) stores the message first, one statement that
 * takes the room's next seq and inserts the row, then broadcasts it to the room through the Redis
 * adapter, so a second process on the same Redis and key (X1) delivers it to its own sockets.
 * No authorization and no per-event checks: that is the reference's cost, not Switchboard's.
 */

import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Server } from 'socket.io';

const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DATABASE_POOL_MAX ?? 4) });
// Its own tables: a conversation's counter and the messages keyed by (conversation, seq), nothing more.
await db.query(`
  CREATE TABLE IF NOT EXISTS sio_conversations (id text PRIMARY KEY, last_seq bigint NOT NULL);
  CREATE TABLE IF NOT EXISTS sio_messages (
    conversation_id text NOT NULL,
    seq bigint NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    sender_id text NOT NULL,
    content text NOT NULL,
    metadata jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, seq)
  )`);
const INSERT = {
  name: 'sio-insert',
  text: `WITH c AS (
      INSERT INTO sio_conversations (id, last_seq) VALUES ($1, 1)
      ON CONFLICT (id) DO UPDATE SET last_seq = sio_conversations.last_seq + 1
      RETURNING last_seq)
    INSERT INTO sio_messages (conversation_id, seq, sender_id, content, metadata)
    SELECT $1, c.last_seq, $2, $3, $4 FROM c
    RETURNING id, seq, created_at`,
};

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const pubClient = new Redis(redisUrl);
const subClient = pubClient.duplicate();

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.method === 'POST' && req.url === '/publish') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const { room, message } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          room: string;
          message: { sender?: { id?: string }; content?: string; metadata?: unknown } & Record<string, unknown>;
        };
        const { rows } = await db.query<{ id: string; seq: string; created_at: Date }>({
          ...INSERT,
          values: [room, message.sender?.id ?? 'anonymous', message.content ?? '', JSON.stringify(message.metadata ?? null)],
        });
        const row = rows[0]!;
        const seq = Number(row.seq);
        io.to(room).emit('message', { ...message, id: row.id, seq, createdAt: row.created_at.toISOString() });
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"data":{"seq":${seq}}}`);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: String(err) }] }));
      }
    });
    return;
  }
  if (!req.url?.startsWith('/socket.io/')) res.writeHead(404).end();
});

const io = new Server(server, { serveClient: false, adapter: createAdapter(pubClient, subClient, { key: process.env.SIO_KEY ?? 'socket.io' }) });
io.on('connection', (socket) => {
  const room = (socket.handshake.auth as { room?: unknown }).room;
  if (typeof room === 'string') socket.join(room);
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  io.disconnectSockets(true);
  io.close(() => {
    pubClient.disconnect();
    subClient.disconnect();
    void db.end().finally(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 2_000).unref();
});

/**
 * The fan-out ceiling: a bare `ws` server with no GraphQL, no database and no Redis. POST
 * /publish {room, message} stamps a seq and broadcasts one serialized graphql-ws "next" frame to
 * every socket of the room (`ws://host:port/?room=<id>`). Started as its own process, like the
 * real server, so the same subscriber workers and the same memory reading apply.
 */

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';

const rooms = new Map<string, { seq: number; sockets: Set<WebSocket> }>();
const room = (id: string) => {
  let r = rooms.get(id);
  if (!r) rooms.set(id, (r = { seq: 0, sockets: new Set() }));
  return r;
};

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.method === 'POST' && req.url === '/publish') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { room: id, message } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        room: string;
        message: Record<string, unknown>;
      };
      const r = room(id);
      const seq = ++r.seq;
      const frame = JSON.stringify({
        id: '1',
        type: 'next',
        payload: { data: { messageAdded: { id: randomUUID(), seq, ...message, createdAt: new Date().toISOString() } } },
      });
      for (const s of r.sockets) s.send(frame);
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"data":{"seq":${seq}}}`);
    });
    return;
  }
  res.writeHead(404).end();
});

const wss = new WebSocketServer({ server });
wss.on('connection', (socket, req) => {
  const id = new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? '';
  const r = room(id);
  r.sockets.add(socket);
  socket.on('close', () => r.sockets.delete(socket));
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  for (const r of rooms.values()) for (const s of r.sockets) s.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
});

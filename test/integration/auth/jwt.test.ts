// Every way a token can be wrong, on both transports: HTTP answers UNAUTHENTICATED (and provisions
// nobody), WebSocket closes with 4403 at connection_init. The server requires an issuer and an
// audience here, so that those checks are exercised too.
import { sql } from 'drizzle-orm';
import { generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypingDocument } from '../../../src/client/generated/graphql.js';
import { nextClose } from '../../kit/realtime.js';
import { startServer, type TestServer } from '../../kit/server.js';
import { collect } from '../../kit/subscriptions.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'switchboard-test';
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('JWT matrix on HTTP and WebSocket', () => {
  let server: TestServer;
  let key: Uint8Array;

  /** A token signed with the server's secret; `claims` override the valid defaults (undefined removes one). */
  const sign = (claims: JWTPayload = {}, alg = 'HS256') => {
    const payload: JWTPayload = { sub: 'mallory', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 3600, ...claims };
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(key);
  };

  beforeAll(async () => {
    server = await startServer({ env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
    key = new TextEncoder().encode(server.secret);
  });
  afterAll(() => server?.stop());

  const bad: [string, () => Promise<string>][] = [
    ['alg none (unsigned)', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: now() + 3600 })}.`],
    ['an unexpected HMAC algorithm (HS512 with the right secret)', () => sign({}, 'HS512')],
    [
      'an asymmetric algorithm the server has no key for (RS256)',
      async () => {
        const { privateKey } = await generateKeyPair('RS256');
        return new SignJWT({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('1h').sign(privateKey);
      },
    ],
    [
      'RS256 in the header over an HMAC of the secret (key confusion)',
      async () => {
        const token = await sign();
        const [, payload, signature] = token.split('.');
        return `${b64({ alg: 'RS256', typ: 'JWT' })}.${payload}.${signature}`;
      },
    ],
    ['no exp', () => sign({ exp: undefined })],
    ['an exp in the past', () => sign({ iat: now() - 7200, exp: now() - 3600 })],
    ['an nbf in the future', () => sign({ nbf: now() + 3600 })],
    ['no sub', () => sign({ sub: undefined })],
    ['the wrong iss', () => sign({ iss: 'https://evil.test' })],
    ['no iss', () => sign({ iss: undefined })],
    ['the wrong aud', () => sign({ aud: 'someone-else' })],
    ['no aud', () => sign({ aud: undefined })],
    [
      'a bad signature (payload changed after signing)',
      async () => {
        const [header, , signature] = (await sign()).split('.');
        return `${header}.${b64({ sub: 'admin', iss: ISSUER, aud: AUDIENCE, exp: now() + 3600, roles: ['admin'] })}.${signature}`;
      },
    ],
    [
      'a signature by another secret',
      () =>
        new SignJWT({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('y'.repeat(40))),
    ],
    ['garbage', async () => 'a.b.c'],
  ];

  it('accepts a valid token on both transports (the control case)', async () => {
    const token = await sign({ sub: 'valid-user' });
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(await res.json()).toEqual({ data: { viewer: { id: 'valid-user' } } });
    const client = server.ws(token);
    await new Promise<void>((resolve, reject) => {
      client.on('connected', () => resolve());
      client.on('closed', (e) => reject(new Error(`closed ${(e as { code: number }).code}`)));
      void client.subscribe({ query: '{ __typename }' }, { next: () => {}, error: reject, complete: () => {} });
    });
  });

  for (const [name, make] of bad) {
    it(`refuses a token with ${name}: UNAUTHENTICATED on HTTP, 4403 on WebSocket`, async () => {
      const token = await make();
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ viewer { id roles } }' }),
      });
      const body = (await res.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(JSON.stringify(body)).not.toMatch(/stack|\.ts:\d/);

      const client = server.ws(token);
      const sub = collect(client, TypingDocument, { conversationId: '00000000-0000-0000-0000-000000000000' });
      expect((await nextClose(client)).code).toBe(4403);
      await sub.waitForEnd();
      expect(sub.events).toEqual([]);
    });
  }

  it('provisioned none of the refused identities', async () => {
    const { rows } = (await server.app.services.database.db.execute(sql`SELECT id FROM users WHERE id IN ('mallory', 'admin', 'valid-user')`)) as unknown as {
      rows: { id: string }[];
    };
    // Only the control case's user exists.
    expect(rows).toEqual([{ id: 'valid-user' }]);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignUpDocument, ViewerDocument } from '../../../src/client/generated/graphql.js';
import { users } from '../../../src/db/schema/index.js';
import { rawSocket } from '../../kit/realtime.js';
import { capturedLog, codeOf, dataOf, startServer, type TestServer } from '../../kit/server.js';

/** Tokens from an identity provider: RS256/ES256 verified against its JWKS (JWT_JWKS_URL). */
describe('JWKS tokens', () => {
  let server: TestServer;
  let jwksServer: Server;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
  let ec: { privateKey: CryptoKey; publicKey: CryptoKey };
  const logged = capturedLog();

  beforeAll(async () => {
    rsa = await generateKeyPair('RS256');
    ec = await generateKeyPair('ES256');
    const keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ];
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys })));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    server = await startServer({
      backend: 'pglite',
      log: logged.log,
      env: { JWT_JWKS_URL: url, JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'switchboard', ACCOUNTS_ENABLED: 'true' },
    });
  });
  afterAll(async () => {
    await server?.stop();
    jwksServer?.close();
  });

  const sign = (alg: 'RS256' | 'ES256', kid: string, key: CryptoKey, claims: Record<string, unknown> = {}, sub = 'ida') =>
    new SignJWT({ name: 'Ida', org: 'idp-org', ...claims })
      .setProtectedHeader({ alg, kid })
      .setSubject(sub)
      .setIssuer('https://idp.example')
      .setAudience('switchboard')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  it('accepts RS256 and ES256 tokens signed by a key of the JWKS and provisions the user', async () => {
    for (const token of [await sign('RS256', 'rsa-1', rsa.privateKey), await sign('ES256', 'ec-1', ec.privateKey)]) {
      expect(dataOf(await server.gql(token, ViewerDocument)).viewer).toMatchObject({ id: 'ida', displayName: 'Ida' });
    }
  });

  it('refuses a token signed by a key that is not in the JWKS', async () => {
    const stranger = await generateKeyPair('RS256');
    expect(codeOf(await server.gql(await sign('RS256', 'rsa-1', stranger.privateKey), ViewerDocument))).toBe('UNAUTHENTICATED');
  });

  it('never adopts a built-in account: its id is UNAUTHENTICATED (logged), even with the account marker', async () => {
    dataOf(await server.gql(null, SignUpDocument, { input: { userId: 'jo', password: 'jo password 1', displayName: 'Someone' } }));
    for (const claims of [
      { org: 'default', roles: ['admin'] },
      { org: 'default', roles: ['admin'], sb_account: true },
    ]) {
      const result = await server.gql(await sign('RS256', 'rsa-1', rsa.privateKey, claims, 'jo'), ViewerDocument);
      expect(codeOf(result)).toBe('UNAUTHENTICATED');
      expect(result.errors![0]!.message).toMatch(/built-in account/);
    }
    expect(logged.lines).toContainEqual(expect.objectContaining({ level: 40, userId: 'jo', msg: expect.stringMatching(/built-in account/) }));
    const [row] = await server.app.services.database.db
      .select()
      .from(users)
      .where(and(eq(users.orgId, 'default'), eq(users.id, 'jo')));
    expect(row).toMatchObject({ displayName: 'Someone', roles: [], source: 'ACCOUNT' });
    // The marker means nothing on an identity provider's token: it is provisioned like any other.
    const marked = await sign('ES256', 'ec-1', ec.privateKey, { org: 'default', name: 'Kit', sb_account: true }, 'kit');
    expect(dataOf(await server.gql(marked, ViewerDocument)).viewer).toMatchObject({ id: 'kit', displayName: 'Kit' });
  });
});

/** An identity provider whose key set cannot be had is the server's trouble, not a bad token. */
describe('JWKS unavailable', () => {
  let server: TestServer;
  let jwksServer: Server;
  let answer: 'keys' | 'error' = 'error';
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };

  beforeAll(async () => {
    rsa = await generateKeyPair('RS256');
    const keys = [{ ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' }];
    jwksServer = createServer((_req, res) => {
      if (answer === 'error') res.writeHead(503).end('down for maintenance');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    server = await startServer({ backend: 'pglite', env: { JWT_JWKS_URL: url } });
  });
  afterAll(async () => {
    await server?.stop();
    jwksServer?.close();
  });

  const token = () =>
    new SignJWT({ name: 'Lee' }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setSubject('lee').setExpirationTime('5m').sign(rsa.privateKey);

  it('answers INTERNAL_SERVER_ERROR over HTTP and closes sockets with 4500, not as a bad token; works once it answers', async () => {
    const jwt = await token();
    expect(codeOf(await server.gql(jwt, ViewerDocument))).toBe('INTERNAL_SERVER_ERROR');
    const raw = await rawSocket(server.wsUrl, null, { init: false });
    raw.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${jwt}` } }));
    expect((await raw.closed).code).toBe(4500);

    answer = 'keys';
    expect(dataOf(await server.gql(jwt, ViewerDocument)).viewer).toMatchObject({ id: 'lee' });
  });

  it('still refuses a token the key set does not vouch for as UNAUTHENTICATED', async () => {
    answer = 'keys';
    const stranger = await generateKeyPair('RS256');
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).setSubject('lee').setExpirationTime('5m').sign(stranger.privateKey);
    expect(codeOf(await server.gql(forged, ViewerDocument))).toBe('UNAUTHENTICATED');
  });
});

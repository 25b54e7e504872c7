import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewerDocument } from '../../src/client/generated/graphql.js';
import { codeOf, dataOf, startServer, type TestServer } from '../kit/server.js';

/** Tokens from an identity provider: RS256/ES256 verified against its JWKS (JWT_JWKS_URL). */
describe('JWKS tokens', () => {
  let server: TestServer;
  let jwksServer: Server;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
  let ec: { privateKey: CryptoKey; publicKey: CryptoKey };

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
    server = await startServer({ backend: 'pglite', env: { JWT_JWKS_URL: url, JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'switchboard' } });
  });
  afterAll(async () => {
    await server?.stop();
    jwksServer?.close();
  });

  const sign = (alg: 'RS256' | 'ES256', kid: string, key: CryptoKey, claims: Record<string, unknown> = {}) =>
    new SignJWT({ name: 'Ida', org: 'idp-org', ...claims })
      .setProtectedHeader({ alg, kid })
      .setSubject('ida')
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
});

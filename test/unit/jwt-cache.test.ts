// A verified token is remembered by its exact string, and only that: it still expires on time,
// and nothing about a different string (or a different verifier) is taken from the cache.
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createJwtVerifier, mintToken } from '../../src/auth/jwt.js';

const SECRET = 's'.repeat(40);
const now = () => Math.floor(Date.now() / 1000);

describe('JWT verification cache', () => {
  afterEach(() => vi.useRealTimers());

  it('stops accepting a remembered token at its exp, with the same tolerance as a first check', async () => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
    const verify = createJwtVerifier({ secret: SECRET });
    const token = await mintToken(SECRET, { sub: 'alice', expiresIn: 60 });
    const exp = now() + 60;
    expect((await verify(token)).sub).toBe('alice');

    vi.setSystemTime((exp + 4) * 1000);
    expect((await verify(token)).sub).toBe('alice');
    // A fresh verifier agrees at both instants: the cache changes nothing but the cost.
    expect((await createJwtVerifier({ secret: SECRET })(token)).sub).toBe('alice');

    vi.setSystemTime((exp + 5) * 1000);
    await expect(verify(token)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: 'Token has expired' });
    await expect(createJwtVerifier({ secret: SECRET })(token)).rejects.toMatchObject({ message: 'Token has expired' });
  });

  it('re-verifies a remembered token after ten minutes', async () => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
    const verify = createJwtVerifier({ secret: SECRET, issuer: 'https://issuer.test' });
    // Valid for 20 minutes; remembered for 10, then verified again...
    const token = await new SignJWT({ sub: 'bob', iss: 'https://issuer.test', exp: now() + 1200 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET));
    const first = await verify(token);
    vi.setSystemTime(Date.now() + 9 * 60_000);
    expect(await verify(token)).toBe(first);
    vi.setSystemTime(Date.now() + 2 * 60_000);
    const again = await verify(token);
    // ...by a new claims object: the token went through jose again.
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('does not remember failures: a token refused before its nbf is taken once it is valid', async () => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') });
    const verify = createJwtVerifier({ secret: SECRET });
    const token = await new SignJWT({ sub: 'erin', nbf: now() + 60, exp: now() + 3600 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET));
    await expect(verify(token)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    vi.setSystemTime(Date.now() + 61_000);
    expect((await verify(token)).sub).toBe('erin');
  });

  it('does not accept a string it has not verified', async () => {
    const verify = createJwtVerifier({ secret: SECRET, audience: 'switchboard' });
    const good = await mintToken(SECRET, { sub: 'carol', audience: 'switchboard' });
    await verify(good);
    const [header, payload, signature] = good.split('.');
    // The same claims with a signature off by one character (not the last: it has padding bits).
    const changed = signature!.at(-2) === 'A' ? 'B' : 'A';
    const forged = `${header}.${payload}.${signature!.slice(0, -2)}${changed}${signature!.slice(-1)}`;
    await expect(verify(forged)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    // A verifier with other rules checks the same string from scratch.
    await expect(createJwtVerifier({ secret: SECRET, audience: 'elsewhere' })(good)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  it('hands out claims nobody can change for the next request', async () => {
    const verify = createJwtVerifier({ secret: SECRET });
    const token = await mintToken(SECRET, { sub: 'dave', roles: ['expert'] });
    const claims = await verify(token);
    expect(() => (claims.roles as string[]).push('admin')).toThrow(TypeError);
    expect(() => Object.assign(claims, { sub: 'mallory' })).toThrow(TypeError);
    expect((await verify(token)).roles).toEqual(['expert']);
  });
});

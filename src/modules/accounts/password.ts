import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Password hashing with scrypt (node:crypto). The stored form carries its parameters and salt,
 * `scrypt$N$r$p$<salt b64url>$<hash b64url>`, so the cost can be raised later without breaking
 * the hashes already stored.
 */
export type ScryptParams = { N: number; r: number; p: number };

/** 2^15 × 8 × 128 B = 32 MiB and roughly 50–100 ms per hash: slow for guessing, fine for a sign-in. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Upper bounds for stored parameters, so a tampered row cannot make a sign-in eat the machine. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

function derive(password: string, salt: Buffer, params: ScryptParams, keyLength: number): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const hash = await derive(password, salt, params, KEY_LENGTH);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Whether `password` matches `stored`; false for a malformed stored value. Compares in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const valid = (v: number, max: number) => Number.isInteger(v) && v >= 1 && v <= max;
  if (!valid(N, MAX_N) || (N & (N - 1)) !== 0 || !valid(r, MAX_R) || !valid(p, MAX_P)) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (salt.length === 0 || expected.length < 16 || expected.length > 128) return false;
  const actual = await derive(password, salt, { N, r, p }, expected.length);
  return timingSafeEqual(actual, expected);
}

let dummy: Promise<string> | undefined;
/**
 * Spends the time of one verification without an account to verify against, so that "no such
 * user" and "wrong password" cannot be told apart by how long the answer takes.
 */
export async function burnVerification(password: string): Promise<void> {
  dummy ??= hashPassword('not a password of anyone');
  await verifyPassword(password, await dummy);
}

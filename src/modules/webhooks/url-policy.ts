import { lookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Longest webhook URL accepted. */
export const MAX_URL_LENGTH = 2048;

/**
 * Where webhooks may point. By default only `https` URLs whose host resolves to public
 * addresses: a webhook must not make the service reach into its own network (loopback, private
 * ranges, link-local cloud metadata). `allowPrivate` (WEBHOOK_ALLOW_PRIVATE, tests and
 * development) also lets `http` and any address through.
 */
export type UrlPolicy = { allowPrivate: boolean };

/** Why a URL is refused, for the client (BAD_USER_INPUT) or the delivery log. */
export class UnsafeUrl extends Error {}

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** Whether an address is loopback, private, link-local, or otherwise not on the public internet. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/** The URL's host as an address, if it is one (IPv6 literals come in brackets). */
const literalAddress = (url: URL) => {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) ? host : undefined;
};

/**
 * Checks what can be told from the URL alone: length, scheme, host, no credentials, and an
 * address host in an allowed range. Throws UnsafeUrl.
 */
export function checkUrl(raw: string, policy: UrlPolicy): URL {
  if (raw.length > MAX_URL_LENGTH) throw new UnsafeUrl(`must be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrl('is not a URL');
  }
  const schemes = policy.allowPrivate ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) throw new UnsafeUrl(`must start with ${schemes.map((s) => `${s}//`).join(' or ')}`);
  if (!url.hostname) throw new UnsafeUrl('must name a host');
  if (url.username || url.password) throw new UnsafeUrl('must not contain credentials');
  const address = literalAddress(url);
  if (address && !policy.allowPrivate && isBlockedAddress(address)) throw new UnsafeUrl('must not point to a private, loopback or link-local address');
  return url;
}

/**
 * Checks the URL and what its host resolves to now: every address must be allowed. A name that
 * does not resolve (yet) passes; its deliveries fail until it does.
 */
export async function checkUrlResolves(raw: string, policy: UrlPolicy): Promise<URL> {
  const url = checkUrl(raw, policy);
  if (policy.allowPrivate || literalAddress(url)) return url;
  const addresses = await new Promise<string[]>((resolve) =>
    lookup(url.hostname, { all: true }, (err, found) => resolve(err ? [] : found.map((a) => a.address))),
  );
  if (addresses.some(isBlockedAddress)) throw new UnsafeUrl('must not resolve to a private, loopback or link-local address');
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | { address: string; family: number }[], family?: number) => void;

/**
 * A `lookup` for http.request that refuses blocked addresses, so the connection goes to an address
 * checked when it is made (a name cannot resolve to a public address at the check and a private
 * one at the connection).
 */
export function guardedLookup(policy: UrlPolicy) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback) => {
    lookup(hostname, { all: true, family: options.family }, (err, found) => {
      if (err) return callback(err, []);
      const allowed = policy.allowPrivate ? found : found.filter((a) => !isBlockedAddress(a.address));
      if (allowed.length === 0) {
        return callback(Object.assign(new UnsafeUrl(`${hostname} resolves to no allowed address`), { code: 'EADDRNOTALLOWED' }), []);
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

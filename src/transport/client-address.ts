import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The address of the client behind a request (HTTP, or a WebSocket's upgrade): the peer's own,
 * or, with `trustedProxies` (TRUST_PROXY_HOPS) > 0, the one the outermost of those proxies saw.
 * Each proxy appends the address it got the request from to X-Forwarded-For, so the entry
 * `trustedProxies` from the right is the client as our own proxies saw it; entries further left
 * are the client's to write and are never read. Setting it is only sound when nothing reaches
 * the server except through those proxies.
 */
export function clientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustedProxies: number): string {
  const peer = plain(req.socket.remoteAddress) ?? 'unknown';
  if (trustedProxies <= 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (chain.length === 0) return peer;
  // Fewer entries than proxies: every one was written by a proxy of ours, the leftmost first.
  const seen = chain[Math.max(0, chain.length - trustedProxies)];
  // A proxy of ours writes addresses; anything else means it is not set up as configured.
  return plain(seen) ?? peer;
}

/** The address as one IP, IPv4 clients on an IPv6 socket as IPv4; undefined when it is none. */
function plain(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const ip = mapped ? mapped[1]! : address;
  return isIP(ip) ? ip : undefined;
}

/**
 * What limits count per client: an IPv4 address, or an IPv6 address's /64 (one subscriber's
 * network usually gets a whole /64, so single addresses would cost an attacker nothing).
 */
export function clientBucket(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // A trailing dotted IPv4 part (::ffff:1.2.3.4 and the like) fills two groups.
  const rightGroups = right.length + (right.at(-1)?.includes('.') ? 1 : 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - rightGroups)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** The page's address names the open conversation (`#/c/<id>`), so a reload or a link reopens it. */

export const conversationHash = (id: string) => `#/c/${encodeURIComponent(id)}`;

/** The conversation the address names, or null. */
export function conversationInHash(hash: string): string | null {
  const match = /^#\/c\/(.+)$/.exec(hash);
  return match ? decodeURIComponent(match[1]!) : null;
}

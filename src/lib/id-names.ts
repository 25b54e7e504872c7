/**
 * Ids inside pub/sub topic names and Redis keys. Ids may hold any character, so each is escaped
 * before it goes in: `%`, `:` and NUL become `%25`, `%3A` and `%00`. An escaped id never holds a
 * separator (`:` or NUL), so two names built the same way are equal only when their ids are
 * (an org named `acme:user:alice` is not acme's alice). Ids without those characters are left as
 * they are, so names stay readable.
 */
export function escapeId(id: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is one of the characters escaped.
  return id.replace(/[%:\u0000]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

export function unescapeId(escaped: string): string {
  return escaped.replace(/%(25|3A|00)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Ids as one Redis key part or hash field: escaped and joined by NUL. */
export function idKey(...ids: string[]): string {
  return ids.map(escapeId).join('\u0000');
}

/** The ids of an idKey. */
export function idsOfKey(key: string): string[] {
  return key.split('\u0000').map(unescapeId);
}

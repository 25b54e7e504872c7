import { BadInputError } from '../graphql/errors.js';

/** Limits of the public contract (API.md and the core issue). */
export const LIMITS = {
  contentChars: 16_000,
  metadataBytes: 16 * 1024,
  nameChars: 200,
  descriptionChars: 2_000,
  shortTextChars: 200,
  reasonChars: 1_000,
  participantsPerCreate: 100,
  /** Nesting of JSON values (metadata): deeper documents overflow the serializer's stack. */
  jsonDepth: 100,
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids of rows are UUIDs; anything else cannot name a row (and must not reach SQL as a uuid). */
export const isUuid = (value: string) => UUID.test(value);

/** Length in characters (code points), as a person counts them, not UTF-16 units. */
export const charLength = (value: string) => {
  // Fast path: a string without surrogates has one code point per unit.
  if (!/[\uD800-\uDFFF]/.test(value)) return value.length;
  let n = 0;
  for (const _ of value) n++;
  return n;
};

type TextRule = { max: number; allowEmpty?: boolean };

/** Throws BAD_USER_INPUT unless `value` is within the rule; NUL is refused (Postgres text cannot hold it). */
export function checkText(field: string, value: string | null | undefined, rule: TextRule): void {
  if (value == null) return;
  if (!rule.allowEmpty && value.trim() === '') throw new BadInputError(`\`${field}\` must not be empty`, field);
  if (value.length > rule.max * 2 || charLength(value) > rule.max) {
    throw new BadInputError(`\`${field}\` is longer than ${rule.max} characters`, field);
  }
  if (value.includes('\u0000')) throw new BadInputError(`\`${field}\` must not contain NUL characters`, field);
}

/** Throws BAD_USER_INPUT unless `value` serializes to at most `maxBytes` of JSON without NUL. */
export function checkJson(field: string, value: unknown, maxBytes: number = LIMITS.metadataBytes): void {
  if (value === undefined || value === null) return;
  if (jsonDepth(value, LIMITS.jsonDepth) > LIMITS.jsonDepth) {
    throw new BadInputError(`\`${field}\` is nested deeper than ${LIMITS.jsonDepth} levels`, field);
  }
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text, 'utf8') > maxBytes) {
    throw new BadInputError(`\`${field}\` is larger than ${maxBytes} bytes of JSON`, field);
  }
  if (text.includes('\\u0000')) throw new BadInputError(`\`${field}\` must not contain NUL characters`, field);
}

/** Nesting depth of a JSON value (a scalar is 0), counted without recursion; stops once past `limit`. */
function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length) {
    const [v, depth] = pending.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > limit) return deepest;
    for (const child of Object.values(v)) pending.push([child, depth + 1]);
  }
  return deepest;
}

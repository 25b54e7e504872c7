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
  /** A streamed answer's parts: how many, each JSON value (tool input, output, data), all together. */
  partsPerMessage: 100,
  partJsonBytes: 16 * 1024,
  partsBytes: 128 * 1024,
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

/**
 * NUL, or a surrogate without its other half: in a `u` regex a pair is one code point, so only a
 * lone one matches. Postgres text cannot hold NUL; a lone surrogate is not Unicode at all (jsonb
 * refuses it, text would store U+FFFD in its place).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it looks for.
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/u;

/** Whether `value` is text Postgres stores as it is: no NUL, no lone surrogate. */
export const isStorableText = (value: string) => !UNSTORABLE.test(value);

export const UNSTORABLE_TEXT = 'must not contain NUL characters or unpaired surrogates';

/**
 * Where a value holds a string that is not storable text, keys of objects included: a path such
 * as `a.b[2]` ('' for the value itself), or undefined when every string is storable. Walked
 * without recursion (variables can nest as deep as a request body allows), and without making
 * paths unless there is one to tell.
 */
export function unstorableTextIn(value: unknown): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : '';
  if (value === null || typeof value !== 'object' || !holdsUnstorableText(value)) return undefined;
  const pending: [unknown, string][] = [[value, '']];
  while (pending.length) {
    const [v, path] = pending.pop()!;
    if (typeof v === 'string') {
      if (!isStorableText(v)) return path;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) pending.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === 'object') {
      for (const key of Object.keys(v)) {
        const at = path ? `${path}.${key}` : key;
        if (!isStorableText(key)) return at;
        pending.push([(v as Record<string, unknown>)[key], at]);
      }
    }
  }
  return undefined;
}

function holdsUnstorableText(value: object): boolean {
  const pending: unknown[] = [value];
  while (pending.length) {
    const v = pending.pop();
    if (typeof v === 'string') {
      if (!isStorableText(v)) return true;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) pending.push(v[i]);
    } else if (v !== null && typeof v === 'object') {
      for (const key in v) {
        if (!isStorableText(key)) return true;
        pending.push((v as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}

const EARLIEST_DATE = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_DATE = Date.parse('9999-12-31T23:59:59.999Z');
export const STORABLE_YEARS = '1 to 9999';

/**
 * Whether a date can be a timestamp parameter: a year of four digits, which Postgres and ISO 8601
 * write alike. Others are sent with a sign and six digits (or as year 0), which Postgres refuses.
 */
export const isStorableDate = (date: Date) => {
  const time = date.getTime();
  return time >= EARLIEST_DATE && time <= LATEST_DATE;
};

/** Throws BAD_USER_INPUT unless `value` is within the rule and storable text. */
export function checkText(field: string, value: string | null | undefined, rule: TextRule): void {
  if (value == null) return;
  if (!rule.allowEmpty && value.trim() === '') throw new BadInputError(`\`${field}\` must not be empty`, field);
  if (value.length > rule.max * 2 || charLength(value) > rule.max) {
    throw new BadInputError(`\`${field}\` is longer than ${rule.max} characters`, field);
  }
  if (!isStorableText(value)) throw new BadInputError(`\`${field}\` ${UNSTORABLE_TEXT}`, field);
}

/** Throws BAD_USER_INPUT unless `value` serializes to at most `maxBytes` of JSON of storable text (keys too). */
export function checkJson(field: string, value: unknown, maxBytes: number = LIMITS.metadataBytes): void {
  if (value === undefined || value === null) return;
  if (jsonDepth(value, LIMITS.jsonDepth) > LIMITS.jsonDepth) {
    throw new BadInputError(`\`${field}\` is nested deeper than ${LIMITS.jsonDepth} levels`, field);
  }
  if (unstorableTextIn(value) !== undefined) throw new BadInputError(`\`${field}\` ${UNSTORABLE_TEXT}`, field);
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text, 'utf8') > maxBytes) {
    throw new BadInputError(`\`${field}\` is larger than ${maxBytes} bytes of JSON`, field);
  }
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

/**
 * Decodes a `timestamptz` as Postgres sends it as text ('2026-11-21 10:00:00.123456+00'), without
 * V8's general date-string parser (twice as slow, and a history page holds dozens of dates).
 * Milliseconds are kept, as `new Date` keeps them. Anything else (other offsets with minutes, BC,
 * infinity, years past 9999) goes to `new Date`, as drizzle's column decoder does.
 */
export function parsePgTimestamptz(text: string): Date {
  const n = text.length;
  // 'YYYY-MM-DD HH:MM:SS' then an optional fraction and a whole-hour offset ('+00', '-05').
  if (n < 22 || text.charCodeAt(4) !== 45 || text.charCodeAt(10) !== 32) return fallback(text);
  let i = 19;
  let ms = 0;
  if (text.charCodeAt(i) === 46) {
    let digits = 0;
    for (i = 20; i < n; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      if (digits < 3) ms = ms * 10 + d;
      digits++;
    }
    for (; digits < 3; digits++) ms *= 10;
  }
  const sign = text.charCodeAt(i);
  if ((sign !== 43 && sign !== 45) || n !== i + 3) return fallback(text);
  const d = (at: number) => text.charCodeAt(at) - 48;
  const year = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3);
  // Date.UTC reads 0-99 as 1900-1999: such years go the way drizzle's `new Date` takes them.
  if (year < 100) return fallback(text);
  const utc = Date.UTC(year, d(5) * 10 + d(6) - 1, d(8) * 10 + d(9), d(11) * 10 + d(12), d(14) * 10 + d(15), d(17) * 10 + d(18), ms);
  const offsetMs = (d(i + 1) * 10 + d(i + 2)) * 3_600_000;
  return new Date(sign === 45 ? utc + offsetMs : utc - offsetMs);
}

const fallback = (text: string) => new Date(text);

/**
 * Hands out one shared copy of equal strings, for strings held long and often alike (the query
 * text of every subscription on a server). Holds at most `maxEntries` strings of at most
 * `maxLength` characters; when full it starts over, which costs only sharing, never correctness.
 */
export class Interner {
  private readonly strings = new Map<string, string>();

  constructor(private readonly limits: { maxEntries: number; maxLength: number }) {}

  intern(value: string): string {
    if (value.length > this.limits.maxLength) return value;
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    if (this.strings.size >= this.limits.maxEntries) this.strings.clear();
    this.strings.set(value, value);
    return value;
  }
}

import SchemaBuilder from '@pothos/core';
import { GraphQLError, GraphQLScalarType } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Context } from '../context.js';
import { isStorableDate, STORABLE_YEARS } from '../lib/validate.js';

/**
 * The one SchemaBuilder. It only configures the builder: each module defines its types and
 * root fields next to its service (src/modules/*) and src/graphql/schema.ts imports them all.
 *
 * A field that returns a property of its parent as it is uses `t.expose*`, never a resolver:
 * graphql-jit then reads the property directly instead of calling a function for every field of
 * every row of a page.
 */
type SchemaTypes = {
  Context: Context;
  // Fields are non-null unless marked `nullable: true`, as in the contract.
  DefaultFieldNullability: false;
  Scalars: {
    // GraphQL hands every ID argument over as a string, whatever the client wrote; ids go out as
    // strings or as numbers (audit entries), which the scalar writes as strings.
    ID: { Input: string; Output: string | number };
    // Output also takes strings: event snapshots carry dates as ISO strings.
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
};

export const builder = new SchemaBuilder<SchemaTypes>({ defaultFieldNullability: false });

/** The builder's resolved types, for helpers that take object refs. */
export type BuilderTypes = PothosSchemaTypes.ExtendDefaultTypes<SchemaTypes>;

builder.addScalarType(
  'DateTime',
  new GraphQLScalarType({
    ...DateTimeResolver.toConfig(),
    // A date Postgres cannot take as a parameter is the client's error, not the database's.
    parseValue: (value) => storable(DateTimeResolver.parseValue(value) as Date),
    parseLiteral: (ast, variables) => storable(DateTimeResolver.parseLiteral(ast, variables) as Date),
    // Writes the string JSON would make of the Date anyway (its toJSON): a result holding strings
    // stays on V8's fast path for JSON.stringify, which a Date leaves. A valid Date (what the
    // database gives) needs no checking; anything else goes through the resolver's checks.
    serialize: (value) => (value instanceof Date && !Number.isNaN(value.getTime()) ? isoString(value) : (DateTimeResolver.serialize(value) as Date).toJSON()),
  }),
);

function storable(date: Date): Date {
  if (!isStorableDate(date)) throw new GraphQLError(`DateTime must lie in the years ${STORABLE_YEARS}`);
  return date;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * The same string as `date.toISOString()` for a valid date, built in JavaScript, which is faster
 * than V8's printf-style C++ routine behind toISOString; a page of messages has dozens of dates.
 */
function isoString(date: Date): string {
  const year = date.getUTCFullYear();
  // toISOString writes these years with a sign and six digits.
  if (year < 0 || year > 9999) return date.toISOString();
  return `${year < 1000 ? `000${year}`.slice(-4) : year}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}T${pad2(date.getUTCHours())}:${pad2(
    date.getUTCMinutes(),
  )}:${pad2(date.getUTCSeconds())}.${pad3(date.getUTCMilliseconds())}Z`;
}
builder.addScalarType('JSON', JSONResolver);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

// The query cost: pages count at the size their literal or variable gives, fragments wherever
// they are spread, and a document's plan stays small whatever its fragments multiply to.
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationCost } from '../../src/graphql/cost.js';
import { schema } from '../../src/graphql/schema.js';

const cost = (query: string, variables?: Record<string, unknown>, operationName?: string) => operationCost(schema, parse(query), operationName, variables);

/** conversations(first: n) { nodes { id messages(last: m) { nodes { id } } } } */
const pages = (n: number, m: number) => 1 + n * (1 + 1 + m * 1);

describe('operationCost', () => {
  const withVariables = 'query($n: Int, $m: Int) { conversations(first: $n) { nodes { id messages(last: $m) { nodes { id content } } } } }';

  it('counts the same for sizes written inline and passed as variables', () => {
    const inline = cost('{ conversations(first: 200) { nodes { id messages(last: 200) { nodes { id content } } } } }');
    expect(inline).toBe(pages(200, 200));
    expect(cost(withVariables, { n: 200, m: 200 })).toBe(inline);
    expect(cost(withVariables, { n: 10, m: 3 })).toBe(pages(10, 3));
    // One document, other variables: the plan is shared, the sizes are not.
    const document = parse(withVariables);
    expect(operationCost(schema, document, undefined, { n: 1, m: 1 })).toBe(pages(1, 1));
    expect(operationCost(schema, document, undefined, { n: 200, m: 200 })).toBe(pages(200, 200));
  });

  it('reads a missing size as pagination does, a default as the variable, and a size it cannot read as the largest page', () => {
    expect(cost(withVariables, {})).toBe(pages(50, 50));
    expect(cost(withVariables)).toBe(pages(50, 50));
    expect(cost(withVariables, { n: null, m: 7 })).toBe(pages(50, 7));
    expect(cost('{ conversations { nodes { id messages { nodes { id } } } } }')).toBe(pages(50, 50));
    expect(cost('query($n: Int = 120) { conversations(first: $n) { nodes { id messages(last: $n) { nodes { id } } } } }', {})).toBe(pages(120, 120));
    expect(cost('query($n: Int = 120) { conversations(first: $n) { nodes { id messages(last: $n) { nodes { id } } } } }', { n: 2 })).toBe(pages(2, 2));
    for (const bad of ['200', 'ten', 2 ** 40, -1, 1.5, { n: 1 }]) expect(cost(withVariables, { n: bad, m: 1 })).toBe(pages(200, 1));
    // `last` wins over `first`, as in parsePageArgs (which refuses the pair anyway).
    expect(cost('{ conversations(first: 1, last: 30) { nodes { id } } }')).toBe(1 + 30);
  });

  it('counts a fragment wherever it is spread, inline fragments included', () => {
    const fragment = 'fragment Page on Conversation { messages(last: $m) { nodes { id } } }';
    const one = cost(`query($n: Int, $m: Int) { a: conversations(first: $n) { nodes { ...Page } } } ${fragment}`, { n: 40, m: 40 });
    expect(one).toBe(1 + 40 * (1 + 1 + 40));
    const two = cost(
      `query($n: Int, $m: Int) { a: conversations(first: $n) { nodes { ...Page } } b: conversations(first: $n) { nodes { ... on Conversation { ...Page } } } } ${fragment}`,
      { n: 40, m: 40 },
    );
    expect(two).toBe(2 * one);
    expect(cost('{ viewer { ... on User { presence { status } } ... { presence { status } } } }')).toBe(3);
  });

  it('counts lists without pagination once and leaves not at all', () => {
    expect(cost('{ viewer { id displayName roles } }')).toBe(1);
    expect(cost('query($c: ID!) { conversation(id: $c) { participants { user { id } } } }', { c: 'x' })).toBe(3);
  });

  it('costs the operation asked for', () => {
    const document = 'query Small { viewer { id } } query Large { conversations(first: 200) { nodes { id } } }';
    expect(cost(document, {}, 'Small')).toBe(1);
    expect(cost(document, {}, 'Large')).toBe(1 + 200);
  });

  it('works out fragments that multiply out to a huge cost without expanding them', () => {
    // Each fragment spreads the one before twice: 2^39 pages of messages in a short document
    // (expanded, it would never finish).
    const levels = Array.from({ length: 40 }, (_, i) =>
      i === 0
        ? 'fragment F0 on Conversation { messages(last: $m) { nodes { id } } }'
        : `fragment F${i} on Conversation { ...F${i - 1} ... on Conversation { ...F${i - 1} } }`,
    );
    const query = `query($m: Int) { conversations(first: 1) { nodes { ...F39 } } } ${levels.join(' ')}`;
    expect(cost(query, { m: 200 })).toBe(1 + 1 * (1 + 2 ** 39 * (1 + 200)));
  });
});

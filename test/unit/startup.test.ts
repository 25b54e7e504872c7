import { describe, expect, it } from 'vitest';
import { startupLine } from '../../src/startup.js';

describe('the startup line', () => {
  const on = { graphiql: true, webChat: true };

  it('names the URLs a browser opens: localhost for every interface, brackets for IPv6', () => {
    expect(startupLine({ ...on, host: '0.0.0.0' }, 4000)).toBe(
      'Switchboard is running: GraphQL http://localhost:4000/graphql, GraphiQL http://localhost:4000/graphql in a browser, web chat http://localhost:4000/',
    );
    expect(startupLine({ ...on, host: '::' }, 80)).toContain('GraphQL http://localhost:80/graphql');
    expect(startupLine({ ...on, host: '::1' }, 4000)).toContain('GraphQL http://[::1]:4000/graphql');
    expect(startupLine({ ...on, host: '10.1.2.3' }, 4000)).toContain('GraphQL http://10.1.2.3:4000/graphql');
  });

  it('leaves out GraphiQL and the web chat when they are off', () => {
    expect(startupLine({ host: '127.0.0.1', graphiql: false, webChat: false }, 4000)).toBe('Switchboard is running: GraphQL http://127.0.0.1:4000/graphql');
  });
});

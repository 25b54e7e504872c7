import { describe, expect, it } from 'vitest';
import { listenProblem, startupLine } from '../../src/startup.js';

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

describe('a listen error', () => {
  const config = { host: '127.0.0.1', port: 4000 };
  const error = (code: string) => Object.assign(new Error(`listen ${code}`), { code });

  it('that configuration can fix is one line naming the variable to change', () => {
    expect(listenProblem(error('EADDRINUSE'), config)).toMatch(/^switchboard cannot start: port 4000 on 127\.0\.0\.1 is already in use\. Set PORT /);
    expect(listenProblem(error('EACCES'), { host: '0.0.0.0', port: 80 })).toMatch(/not allowed to listen on port 80 on 0\.0\.0\.0\. Set PORT to 1024 or above/);
    expect(listenProblem(error('EADDRNOTAVAIL'), { host: '10.9.9.9', port: 4000 })).toMatch(/HOST 10\.9\.9\.9 is not an address of this machine\. Set HOST/);
  });

  it('of another kind is left to the caller', () => {
    expect(listenProblem(error('EMFILE'), config)).toBeUndefined();
    expect(listenProblem(new Error('boom'), config)).toBeUndefined();
  });
});

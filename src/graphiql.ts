import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL at /graphql, served whole from @graphql-yoga/render-graphiql: its scripts, styles,
 * editor workers and fonts are inlined in the page, so it works offline and behind a firewall
 * (Yoga's own page loads them from a CDN).
 */

/**
 * Subscriptions go over SSE, an HTTP request like any query: the Headers tab's authorization goes
 * with it. Over WebSocket GraphiQL sends an empty connection_init, which the socket refuses.
 */
export const GRAPHIQL_OPTIONS: GraphiQLOptions = { title: 'Switchboard', subscriptionsProtocol: 'SSE' };

/** Pages rendered so far, by their options (the same for every request of a server). */
const pages = new Map<string, Promise<string>>();

/**
 * Yoga's `renderGraphiQL`. The package is imported on the first page load, so that a server with
 * GraphiQL off (or never opened) does not load its bundle, and each page is rendered once.
 */
export function renderGraphiQL(options: GraphiQLOptions = {}): Promise<string> {
  const key = JSON.stringify(options);
  let page = pages.get(key);
  if (!page) {
    page = import('@graphql-yoga/render-graphiql').then((m) => m.renderGraphiQL(options));
    page.catch(() => pages.delete(key));
    pages.set(key, page);
  }
  return page;
}

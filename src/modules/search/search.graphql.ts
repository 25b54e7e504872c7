import { requireViewer } from '../../context.js';
import { builder } from '../../graphql/builder.js';
import { PageInfo } from '../../graphql/connection.js';
import { MessageRef } from '../messages/message.graphql.js';
import type { SearchEdge, SearchPage } from './search.service.js';

const MessageSearchEdge = builder.objectRef<SearchEdge>('MessageSearchEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: MessageRef, resolve: (e) => e.message }),
    highlight: t.exposeString('highlight', {
      description: 'The content, HTML-escaped, with the words that matched between <mark> and </mark>.',
    }),
  }),
});

const MessageSearchConnection = builder.objectRef<SearchPage>('MessageSearchConnection').implement({
  fields: (t) => ({
    edges: t.expose('edges', { type: [MessageSearchEdge] }),
    pageInfo: t.field({
      type: PageInfo,
      resolve: (page) => ({
        hasNextPage: page.hasNextPage,
        hasPreviousPage: page.hasPreviousPage,
        startCursor: page.edges[0]?.cursor ?? null,
        endCursor: page.edges.at(-1)?.cursor ?? null,
      }),
    }),
  }),
});

builder.queryFields((t) => ({
  searchMessages: t.field({
    type: MessageSearchConnection,
    description:
      'Messages of your conversations whose content matches `query` (web search syntax: words, "a phrase", or, -word), best match first. Deleted messages never match; edited ones match by their new text.',
    args: {
      query: t.arg.string({ required: true }),
      conversationId: t.arg.id(),
      senderId: t.arg.id(),
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) => ctx.services.search.search(requireViewer(ctx), args),
  }),
}));

import type { ObjectRef } from '@pothos/core';
import type { Page } from '../lib/paging.js';
import { type BuilderTypes, builder } from './builder.js';

export const PageInfo = builder
  .objectRef<{ hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null }>('PageInfo')
  .implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean('hasNextPage'),
      hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
      startCursor: t.exposeString('startCursor', { nullable: true }),
      endCursor: t.exposeString('endCursor', { nullable: true }),
    }),
  });

/** Defines `<Name>Connection` and `<Name>Edge` for a node type. */
export function connectionType<T>(name: string, node: ObjectRef<BuilderTypes, T>) {
  const Edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.expose('node', { type: node }),
    }),
  });
  return builder.objectRef<Page<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({
        type: [Edge],
        resolve: (page) => page.nodes.map((n) => ({ cursor: page.cursorOf(n), node: n })),
      }),
      nodes: t.expose('nodes', { type: [node] }),
      pageInfo: t.field({
        type: PageInfo,
        resolve: (page) => ({
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: page.nodes.length ? page.cursorOf(page.nodes[0]!) : null,
          endCursor: page.nodes.length ? page.cursorOf(page.nodes[page.nodes.length - 1]!) : null,
        }),
      }),
    }),
  });
}

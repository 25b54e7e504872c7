import type { GraphQLField } from 'graphql';

/**
 * Field options that declare a field viewer-independent: it resolves the same for every subscriber
 * allowed to receive the event it belongs to, because it reads the event itself or rows of the
 * event's org (a sender, a replied-to message, a presence), never the viewer. The fan-out
 * (fan-out.ts) executes a subscription document once per event for all its subscribers when every
 * field it selects is declared so. Declare it after checking the field cannot differ between two
 * such viewers; a field without it is not wrong, documents selecting it are executed per viewer.
 */
export const viewerIndependent = { extensions: { viewerIndependent: true } } as const;

export const isViewerIndependent = (field: GraphQLField<unknown, unknown>): boolean => field.extensions?.viewerIndependent === true;

import { GraphQLError } from 'graphql';

/** The `extensions.code` values of the public contract (API.md): the only codes a client sees. */
export const ERROR_CODES = ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'RATE_LIMITED', 'INTERNAL_SERVER_ERROR'] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error meant for the client: its message and code are shown as they are.
 * Anything else thrown inside a resolver is masked (see src/graphql/mask.ts).
 */
export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { code, ...extra } });
    this.name = 'AppError';
  }
}

/** The request carries no valid identity. */
export class UnauthenticatedError extends AppError {
  constructor(message = 'Authentication required') {
    super('UNAUTHENTICATED', message);
  }
}

/** The viewer is known but may not do this. */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** No such thing in the viewer's org (also used where existence must not leak). */
export class NotFoundError extends AppError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
  }
}

/** Input that breaks a rule; `field` names the offending argument. */
export class BadInputError extends AppError {
  constructor(message: string, field?: string) {
    super('BAD_USER_INPUT', message, field ? { field } : {});
  }
}

/** The request contradicts what is stored (e.g. a reused clientMessageId with other content). */
export class ConflictError extends AppError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

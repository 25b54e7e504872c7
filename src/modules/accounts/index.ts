import type { Logger } from 'pino';
import type { Db } from '../../db/client.js';
import type { RateLimiter } from '../../ratelimit/rate-limiter.js';
import { AccountRepository } from './account.repository.js';
import { type AccountOptions, AccountService } from './account.service.js';

/** Built-in accounts (signUp, signIn), for standalone use; off unless configured. */
export function createAccountsModule(deps: { db: Db; log: Logger; rateLimiter: RateLimiter; options: AccountOptions }) {
  return { accounts: new AccountService(new AccountRepository(deps.db), deps.options, deps.log, deps.rateLimiter) };
}

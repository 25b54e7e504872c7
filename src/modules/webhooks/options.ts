import type { QueueOptions } from './queue.js';
import type { SecretKey } from './secret-box.js';
import type { UrlPolicy } from './url-policy.js';

/** How webhooks are delivered (the WEBHOOK_* variables, config.ts). */
export type WebhookOptions = QueueOptions &
  UrlPolicy & {
    /** Seal stored signing secrets (WEBHOOK_SECRET_KEY): the first seals, all open. */
    secretKeys: readonly SecretKey[];
  };

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  allowPrivate: false,
  concurrency: 16,
  retryBaseSeconds: 10,
  timeoutMs: 10_000,
  disableAfter: 100,
  retentionDays: 7,
  secretKeys: [],
};

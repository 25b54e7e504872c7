// Helpers of the expert desk and evaluation suites.
import { activeSubscriptions, type TestServer } from '../../kit/server.js';
import { eventually } from '../../kit/subscriptions.js';

/** Starts a subscription and resolves once the server runs it, so no event can be missed. */
export async function subscribed<T>(server: TestServer, start: () => T): Promise<T> {
  const before = await activeSubscriptions(server);
  const subscription = start();
  await eventually(async () => (await activeSubscriptions(server)) > before);
  return subscription;
}

// Registered in vitest.config.ts: a test that fails (a timeout, typically) says which of the
// kit's waits had not been satisfied.
import { beforeEach } from 'vitest';
import { takePending } from './pending.js';

beforeEach(({ onTestFailed }) => {
  takePending();
  onTestFailed(({ task }) => {
    const waiting = takePending();
    if (waiting.length) console.error(`${task.name}: still waiting for\n  ${waiting.join('\n  ')}`);
  });
});

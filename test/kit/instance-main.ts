// One Switchboard instance in a process of its own, started by spawnInstance() for tests that
// kill an instance outright (SIGKILL: no cleanup of any kind runs). Prints {"port":N} when ready.
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

const timing = process.env.SB_TEST_TIMING ? JSON.parse(process.env.SB_TEST_TIMING) : undefined;
const app = await createApp(loadConfig(process.env), { timing });
const { port } = await app.start(0);
process.stdout.write(`${JSON.stringify({ port })}\n`);

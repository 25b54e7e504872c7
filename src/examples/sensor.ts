/**
 * An example sensor service built on the typed client: people send it COMMAND messages in a
 * private conversation ("subscribe", "unsubscribe", "range", "status"), and it broadcasts its
 * readings as NOTIFICATION messages to everyone subscribed.
 *
 *   SWITCHBOARD_TOKEN=$(npm run -s token -- thermometer --kind agent --name Thermometer) npm run example:sensor
 */
import WebSocket from 'ws';
import { createSwitchboardClient, type Message, type SwitchboardClient } from '../client/index.js';

export type SensorOptions = {
  client: SwitchboardClient;
  selfId: string;
  /** Reads the sensor (default: a simulated temperature). */
  read?: () => number;
  intervalMs?: number;
  unit?: string;
  log?: (line: string) => void;
};

export type Sensor = { stop(): void /** Takes and broadcasts one reading now. */; broadcast(): Promise<void> };

export function startSensor(options: SensorOptions): Sensor {
  const { client, selfId } = options;
  const unit = options.unit ?? '°C';
  const log = options.log ?? (() => {});
  const read = options.read ?? simulatedTemperature();
  /** Subscribed conversations (one private conversation per subscriber). */
  const subscribers = new Set<string>();
  const readings: number[] = [];

  const reply = (conversationId: string, content: string, kind: 'CHAT' | 'NOTIFICATION' = 'CHAT') => client.sendMessage({ conversationId, content, kind });

  const onCommand = async (m: Message) => {
    if (m.sender.id === selfId || (m.kind !== 'COMMAND' && m.kind !== 'CHAT')) return;
    const command = m.content.trim().toLowerCase().replace(/^[!/]/, '');
    switch (command) {
      case 'subscribe':
        subscribers.add(m.conversationId);
        return reply(m.conversationId, `Subscribed: you will get a reading every ${Math.round((options.intervalMs ?? 5000) / 1000)} s.`);
      case 'unsubscribe':
        subscribers.delete(m.conversationId);
        return reply(m.conversationId, 'Unsubscribed.');
      case 'range': {
        if (readings.length === 0) return reply(m.conversationId, 'No readings yet.');
        const min = Math.min(...readings).toFixed(1);
        const max = Math.max(...readings).toFixed(1);
        return reply(m.conversationId, `Range over the last ${readings.length} readings: ${min}${unit} to ${max}${unit}.`);
      }
      case 'status':
        return reply(m.conversationId, `${subscribers.size} subscriber(s); last reading ${readings.at(-1)?.toFixed(1) ?? 'none'}${unit}.`);
      default:
        return reply(m.conversationId, 'Commands: subscribe, unsubscribe, range, status.');
    }
  };

  const broadcast = async () => {
    const value = read();
    readings.push(value);
    if (readings.length > 100) readings.shift();
    await Promise.all(
      [...subscribers].map((conversationId) =>
        reply(conversationId, `${value.toFixed(1)}${unit}`, 'NOTIFICATION').catch((err) => log(`broadcast to ${conversationId} failed: ${err.message}`)),
      ),
    );
  };

  const stopListening = client.onMessage(null, (m) => void onCommand(m)?.catch((err) => log(`command failed: ${err.message}`)));
  const timer = setInterval(() => void broadcast(), options.intervalMs ?? 5000);
  timer.unref?.();
  return {
    stop: () => {
      clearInterval(timer);
      stopListening();
    },
    broadcast,
  };
}

function simulatedTemperature() {
  let t = 21;
  return () => (t = Math.round((t + (Math.random() - 0.5)) * 10) / 10);
}

if (process.argv[1]?.endsWith('sensor.ts')) {
  const url = process.env.SWITCHBOARD_URL ?? 'http://localhost:4000/graphql';
  const token = process.env.SWITCHBOARD_TOKEN;
  if (!token) {
    console.error('Set SWITCHBOARD_TOKEN to an agent token: npm run -s token -- thermometer --kind agent');
    process.exit(2);
  }
  const client = createSwitchboardClient({ url, token, webSocketImpl: WebSocket });
  const me = await client.viewer();
  startSensor({ client, selfId: me.id, intervalMs: Number(process.env.SENSOR_INTERVAL_MS ?? 5000), log: console.log });
  console.log(`sensor ${me.id} listening on ${url}`);
}

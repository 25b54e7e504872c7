import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one instance, served at /metrics. */
export class Metrics {
  readonly registry = new Registry();

  readonly openSockets = new Gauge({ name: 'switchboard_open_sockets', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly activeSubscriptions = new Gauge({
    name: 'switchboard_active_subscriptions',
    help: 'Subscriptions currently running (WebSocket and SSE)',
    registers: [this.registry],
  });
  readonly messagesSent = new Counter({ name: 'switchboard_messages_sent_total', help: 'Messages committed', registers: [this.registry] });
  readonly deliveries = new Counter({
    name: 'switchboard_deliveries_total',
    help: 'Subscription events delivered to clients',
    registers: [this.registry],
  });
  readonly publishFailures = new Counter({
    name: 'switchboard_publish_failures_total',
    help: 'Events that could not be published (the write itself was committed)',
    registers: [this.registry],
  });
  readonly operationDuration = new Histogram({
    name: 'switchboard_operation_duration_seconds',
    help: 'GraphQL operation latency (queries and mutations)',
    labelNames: ['type', 'operation'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
  }
}

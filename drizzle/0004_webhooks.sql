CREATE TYPE "public"."webhook_delivery_status" AS ENUM('PENDING', 'SUCCEEDED', 'FAILED');--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"webhook_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"org_id" text NOT NULL,
	"event" text NOT NULL,
	"status" "webhook_delivery_status" DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"response_status" integer,
	"response_excerpt" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_attempt_at" timestamp with time zone,
	"next_attempt_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" text NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" text NOT NULL,
	"url" text NOT NULL,
	"events" text[] NOT NULL,
	"secret" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"failure_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_id_webhooks_id_fk" FOREIGN KEY ("webhook_id") REFERENCES "public"."webhooks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_event_id_webhook_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."webhook_events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_webhook_idx" ON "webhook_deliveries" USING btree ("webhook_id","created_at","id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_event_idx" ON "webhook_deliveries" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_pending_idx" ON "webhook_deliveries" USING btree ("created_at") WHERE status = 'PENDING';--> statement-breakpoint
CREATE INDEX "webhook_events_created_idx" ON "webhook_events" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "webhooks_org_idx" ON "webhooks" USING btree ("org_id");--> statement-breakpoint
-- hand-written below
-- The webhook outbox (src/modules/webhooks): every change a webhook reports writes its event in
-- its own transaction. message.created is written by the send statement itself
-- (MessageRepository); the triggers below write the others. webhook_payload() gives a row's
-- columns the API's camelCase names.
CREATE FUNCTION webhook_payload(r jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_object_agg(lower(left(k, 1)) || substr(replace(initcap(replace(k, '_', ' ')), ' ', ''), 2), v), '{}'::jsonb)
  FROM jsonb_each(r) AS e(k, v)
$$;
--> statement-breakpoint
-- Row trigger: TG_ARGV[0] is the event name. Writes the event only when the row's org has an
-- enabled webhook for it, so orgs without webhooks pay one index probe.
CREATE FUNCTION webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN r := to_jsonb(OLD); ELSE r := to_jsonb(NEW); END IF;
  -- Participants removed with their conversation: conversation.deleted says it all.
  IF TG_TABLE_NAME = 'participants' AND TG_OP = 'DELETE' THEN
    IF NOT EXISTS (SELECT 1 FROM conversations c WHERE c.id = (r->>'conversation_id')::uuid) THEN
      RETURN NULL;
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM webhooks w WHERE w.org_id = r->>'org_id' AND w.enabled
             AND (TG_ARGV[0] = ANY (w.events) OR '*' = ANY (w.events))) THEN
    INSERT INTO webhook_events (org_id, type, data) VALUES (r->>'org_id', TG_ARGV[0], webhook_payload(r - 'private_key' - 'search'));
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- Makes each delivery a job of pg-boss' queue `webhook-delivery` (src/modules/webhooks/queue.ts),
-- with the options the queue was created with, in the caller's transaction. Without pg-boss'
-- tables (no server has started on this database yet) the deliveries wait: the first server
-- to install them enqueues every pending delivery.
CREATE FUNCTION webhook_enqueue(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pgboss.job') IS NOT NULL THEN
    INSERT INTO pgboss.job (name, data, retry_limit, retry_delay, retry_backoff, expire_in, policy)
    SELECT q.name, jsonb_build_object('deliveryId', d.id), q.retry_limit, q.retry_delay, q.retry_backoff,
           make_interval(secs => q.expire_seconds), q.policy
    FROM unnest(ids) AS d(id) CROSS JOIN pgboss.queue q
    WHERE q.name = 'webhook-delivery';
  END IF;
END
$$;
--> statement-breakpoint
-- Statement trigger: each new event becomes a delivery per subscribed webhook, each enqueued,
-- still in the transaction of the change.
CREATE FUNCTION webhook_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids uuid[];
BEGIN
  WITH inserted AS (
    INSERT INTO webhook_deliveries (webhook_id, event_id, org_id, event)
    SELECT w.id, e.id, e.org_id, e.type
    FROM new_events e
    JOIN webhooks w ON w.org_id = e.org_id AND w.enabled AND (e.type = ANY (w.events) OR '*' = ANY (w.events))
    RETURNING id
  )
  SELECT array_agg(id) INTO ids FROM inserted;
  IF ids IS NOT NULL THEN
    PERFORM webhook_enqueue(ids);
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER webhook_fan_out AFTER INSERT ON webhook_events REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION webhook_fan_out();
--> statement-breakpoint
CREATE TRIGGER webhook_message_updated AFTER UPDATE ON messages FOR EACH ROW
  WHEN (NEW.deleted_at IS NULL AND OLD.edited_at IS DISTINCT FROM NEW.edited_at)
  EXECUTE FUNCTION webhook_outbox('message.updated');
--> statement-breakpoint
CREATE TRIGGER webhook_message_deleted AFTER UPDATE ON messages FOR EACH ROW
  WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
  EXECUTE FUNCTION webhook_outbox('message.deleted');
--> statement-breakpoint
CREATE TRIGGER webhook_conversation_created AFTER INSERT ON conversations FOR EACH ROW
  EXECUTE FUNCTION webhook_outbox('conversation.created');
--> statement-breakpoint
-- Not last_seq or last_activity_at, which every send moves.
CREATE TRIGGER webhook_conversation_updated AFTER UPDATE ON conversations FOR EACH ROW
  WHEN ((OLD.name, OLD.description, OLD.metadata, OLD.mode, OLD.assignee_id, OLD.preempt_on_priority)
        IS DISTINCT FROM (NEW.name, NEW.description, NEW.metadata, NEW.mode, NEW.assignee_id, NEW.preempt_on_priority))
  EXECUTE FUNCTION webhook_outbox('conversation.updated');
--> statement-breakpoint
CREATE TRIGGER webhook_conversation_deleted AFTER DELETE ON conversations FOR EACH ROW
  EXECUTE FUNCTION webhook_outbox('conversation.deleted');
--> statement-breakpoint
CREATE TRIGGER webhook_participant_added AFTER INSERT ON participants FOR EACH ROW
  EXECUTE FUNCTION webhook_outbox('participant.added');
--> statement-breakpoint
CREATE TRIGGER webhook_participant_removed AFTER DELETE ON participants FOR EACH ROW
  EXECUTE FUNCTION webhook_outbox('participant.removed');
--> statement-breakpoint
CREATE TRIGGER webhook_control_created AFTER INSERT ON control_events FOR EACH ROW
  EXECUTE FUNCTION webhook_outbox('control.created');
--> statement-breakpoint
CREATE TRIGGER webhook_run_updated AFTER UPDATE ON agent_runs FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.priority IS DISTINCT FROM NEW.priority)
  EXECUTE FUNCTION webhook_outbox('run.updated');
--> statement-breakpoint
CREATE TRIGGER webhook_expert_request_opened AFTER INSERT ON expert_requests FOR EACH ROW
  EXECUTE FUNCTION webhook_outbox('expert_request.opened');
--> statement-breakpoint
CREATE TRIGGER webhook_expert_request_claimed AFTER UPDATE ON expert_requests FOR EACH ROW
  WHEN (NEW.status = 'CLAIMED' AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION webhook_outbox('expert_request.claimed');
--> statement-breakpoint
CREATE TRIGGER webhook_expert_request_resolved AFTER UPDATE ON expert_requests FOR EACH ROW
  WHEN (NEW.status = 'RESOLVED' AND OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION webhook_outbox('expert_request.resolved');

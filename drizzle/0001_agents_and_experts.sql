CREATE TYPE "public"."conversation_mode" AS ENUM('AGENT', 'EXPERT', 'DIRECT');--> statement-breakpoint
CREATE TYPE "public"."expert_request_status" AS ENUM('OPEN', 'CLAIMED', 'RESOLVED', 'CANCELLED');--> statement-breakpoint
CREATE TYPE "public"."run_state" AS ENUM('ACTIVE', 'PAUSED', 'CANCELLED', 'PREEMPTED', 'COMPLETED');--> statement-breakpoint
CREATE TYPE "public"."stream_state" AS ENUM('STREAMING', 'COMPLETED', 'CANCELLED', 'PREEMPTED');--> statement-breakpoint
CREATE TABLE "agent_runs" (
	"conversation_id" uuid NOT NULL,
	"run_id" text NOT NULL,
	"org_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"state" "run_state" DEFAULT 'ACTIVE' NOT NULL,
	"priority" "message_priority" DEFAULT 'NORMAL' NOT NULL,
	"trace_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_runs_conversation_id_run_id_pk" PRIMARY KEY("conversation_id","run_id")
);
--> statement-breakpoint
CREATE TABLE "expert_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"conversation_id" uuid NOT NULL,
	"org_id" text NOT NULL,
	"requested_by" text NOT NULL,
	"reason" text,
	"status" "expert_request_status" DEFAULT 'OPEN' NOT NULL,
	"claimed_by" text,
	"previous_assignee_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"claimed_at" timestamp with time zone,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "message_streams" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"conversation_id" uuid NOT NULL,
	"org_id" text NOT NULL,
	"sender_id" text NOT NULL,
	"sender_kind" "actor_kind" NOT NULL,
	"run_id" text,
	"trace_id" text,
	"content" text DEFAULT '' NOT NULL,
	"content_type" text DEFAULT 'text/plain' NOT NULL,
	"priority" "message_priority" DEFAULT 'NORMAL' NOT NULL,
	"interruptible" boolean DEFAULT true NOT NULL,
	"metadata" jsonb,
	"state" "stream_state" DEFAULT 'STREAMING' NOT NULL,
	"preempted_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "conversations" ALTER COLUMN "last_activity_at" SET DATA TYPE timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "conversations" ALTER COLUMN "last_activity_at" SET DEFAULT now();--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "mode" "conversation_mode" DEFAULT 'AGENT' NOT NULL;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "assignee_id" text;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "preempt_on_priority" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "agent_runs" ADD CONSTRAINT "agent_runs_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_runs" ADD CONSTRAINT "agent_runs_agent_fk" FOREIGN KEY ("org_id","agent_id") REFERENCES "public"."users"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "expert_requests" ADD CONSTRAINT "expert_requests_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_streams" ADD CONSTRAINT "message_streams_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_streams" ADD CONSTRAINT "message_streams_sender_fk" FOREIGN KEY ("org_id","sender_id") REFERENCES "public"."users"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "expert_requests_org_status_idx" ON "expert_requests" USING btree ("org_id","status","created_at");--> statement-breakpoint
CREATE INDEX "expert_requests_conversation_idx" ON "expert_requests" USING btree ("conversation_id","status");--> statement-breakpoint
CREATE INDEX "message_streams_conversation_idx" ON "message_streams" USING btree ("conversation_id","state");
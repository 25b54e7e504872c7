ALTER TYPE "public"."run_state" ADD VALUE 'FAILED';--> statement-breakpoint
ALTER TABLE "agent_runs" ADD COLUMN "position" bigint NOT NULL GENERATED ALWAYS AS IDENTITY (sequence name "agent_runs_position_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1);--> statement-breakpoint
ALTER TABLE "agent_runs" ADD COLUMN "reason" text;--> statement-breakpoint
ALTER TABLE "agent_runs" ADD COLUMN "ended_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "agent_runs_conversation_idx" ON "agent_runs" USING btree ("conversation_id","position");--> statement-breakpoint
-- hand-written below
-- Runs that had ended before ended_at existed ended when they last changed.
UPDATE "agent_runs" SET "ended_at" = "updated_at" WHERE "state" IN ('CANCELLED', 'PREEMPTED', 'COMPLETED');

CREATE TYPE "public"."evaluation_verdict" AS ENUM('PASS', 'FAIL');--> statement-breakpoint
CREATE TABLE "evaluations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"message_id" uuid NOT NULL,
	"conversation_id" uuid NOT NULL,
	"org_id" text NOT NULL,
	"evaluator_id" text NOT NULL,
	"verdict" "evaluation_verdict" NOT NULL,
	"scores" jsonb,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "evaluations" ADD CONSTRAINT "evaluations_message_id_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "evaluations" ADD CONSTRAINT "evaluations_evaluator_fk" FOREIGN KEY ("org_id","evaluator_id") REFERENCES "public"."users"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "evaluations_message_idx" ON "evaluations" USING btree ("message_id","created_at");--> statement-breakpoint
-- hand-written below
-- evaluation.created joins the webhook outbox (see 0004_webhooks.sql), in the evaluation's transaction.
CREATE TRIGGER webhook_evaluation_created AFTER INSERT ON evaluations FOR EACH ROW
  EXECUTE FUNCTION webhook_outbox('evaluation.created');

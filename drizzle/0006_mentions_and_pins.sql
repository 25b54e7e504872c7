ALTER TABLE "messages" ADD COLUMN "mention_ids" text[];--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "pinned_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "pinned_by" text;--> statement-breakpoint
CREATE INDEX "messages_mentions_idx" ON "messages" USING gin ("mention_ids") WHERE "messages"."mention_ids" is not null;--> statement-breakpoint
CREATE INDEX "messages_pinned_idx" ON "messages" USING btree ("conversation_id","pinned_at") WHERE "messages"."pinned_at" is not null;
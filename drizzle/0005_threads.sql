ALTER TABLE "messages" ADD COLUMN "thread_id" uuid;--> statement-breakpoint
CREATE INDEX "messages_thread_idx" ON "messages" USING btree ("thread_id","seq") WHERE "messages"."thread_id" is not null;--> statement-breakpoint
CREATE INDEX "messages_top_level_idx" ON "messages" USING btree ("conversation_id","seq") WHERE "messages"."thread_id" is null;
ALTER TABLE "conversations" ADD COLUMN "is_public" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "muted" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "archived_seq" integer;--> statement-breakpoint
CREATE INDEX "conversations_public_idx" ON "conversations" USING btree ("org_id","last_activity_at") WHERE "conversations"."is_public";
ALTER TABLE "message_streams" ADD COLUMN "parts" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "message_streams" ADD COLUMN "version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "parts" jsonb;--> statement-breakpoint
-- hand-written below
-- Streams running across the upgrade: their text so far is their one TEXT part.
UPDATE "message_streams" SET "parts" = jsonb_build_array(jsonb_build_object('type', 'TEXT', 'text', "content")) WHERE "content" <> '';

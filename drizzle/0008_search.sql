-- Custom SQL migration file, put your code below! --
-- hand-written below
-- Full-text search over message content (SearchRepository): a generated tsvector, so an edit
-- re-generates it and a delete (which empties the content) leaves nothing to match, under a GIN
-- index. Kept out of the drizzle table so that selecting messages never reads it.
ALTER TABLE "messages" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, "content")) STORED;--> statement-breakpoint
CREATE INDEX "messages_search_idx" ON "messages" USING gin ("search");

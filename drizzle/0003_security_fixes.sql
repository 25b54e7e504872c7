CREATE TYPE "public"."user_source" AS ENUM('ACCOUNT', 'TOKEN', 'SERVICE', 'PLACEHOLDER');--> statement-breakpoint
CREATE TABLE "conversation_departures" (
	"conversation_id" uuid NOT NULL,
	"org_id" text NOT NULL,
	"user_id" text NOT NULL,
	"role" "participant_role" NOT NULL,
	"last_read_seq" integer DEFAULT 0 NOT NULL,
	"removed_by" text,
	"departed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "conversation_departures_conversation_id_user_id_pk" PRIMARY KEY("conversation_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "source" "user_source" DEFAULT 'TOKEN' NOT NULL;--> statement-breakpoint
ALTER TABLE "conversation_departures" ADD CONSTRAINT "conversation_departures_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_departures" ADD CONSTRAINT "departures_user_fk" FOREIGN KEY ("org_id","user_id") REFERENCES "public"."users"("org_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
UPDATE "users" SET "source" = 'ACCOUNT' WHERE EXISTS (SELECT 1 FROM "accounts" a WHERE a."org_id" = "users"."org_id" AND a."user_id" = "users"."id");

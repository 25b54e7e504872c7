import { defineConfig } from 'drizzle-kit';

// Migrations are generated from the table definitions and applied by the server at start
// (src/db/migrate.ts); `npm run db:generate` after changing src/db/schema.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  out: './drizzle',
  dbCredentials: process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : undefined,
} as Parameters<typeof defineConfig>[0]);

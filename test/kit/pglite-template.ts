import { readFile } from 'node:fs/promises';
import { inject } from 'vitest';

let template: Promise<Blob | undefined> | undefined;

/**
 * The migrated data dir every PGlite database in memory starts from (made once per run by
 * global-setup.ts), read once per test process; undefined outside that setup, where a database
 * starts empty and is migrated as in production.
 */
export function memoryTemplate(): Promise<Blob | undefined> {
  const file = inject('pgliteTemplate');
  return (template ??= file ? readFile(file).then((bytes) => new Blob([bytes])) : Promise.resolve(undefined));
}

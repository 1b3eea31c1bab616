import { fileURLToPath } from 'node:url';
import { connectDatabase } from '#core/db/connect';
import { readMigrations } from '#core/db/migrationFiles';
import { readEnv } from '#core/env';
import { logger } from '#core/observability';
import { migrationHandler } from './migrateOnDeploy.ts';

// The bundler copies migrations/ next to index.mjs (infra/constructs/migrations.ts).
const bundledMigrations = fileURLToPath(new URL('./migrations', import.meta.url));

const migrateOnDeploy = migrationHandler({
  connect: () => connectDatabase(readEnv()),
  loadMigrations: () => readMigrations(bundledMigrations),
});

/** Custom resource onEvent handler (CDK Provider framework). */
export const handler: typeof migrateOnDeploy = async (event) => {
  const response = await migrateOnDeploy(event);
  logger.info('migrations', { requestType: event.RequestType, ...response.Data });
  return response;
};

import { collectWarehouseStatus } from '#core/warehouse/verify';
import { worst } from '#core/warehouse/health';
import { openCliDatabase, type CliDatabase } from '../../local/cli/database.ts';
import { keptQueues, probeQueues, type QueueTarget } from '../cli/queues.ts';
import { runCommand } from '../../local/cli/run.ts';
import { renderVerifyReport } from '../cli/verifyReport.ts';

const USAGE = `npm run verify -- [--json] [--data-dir DIR] [--queue-prefix PREFIX]
Checks the warehouse: engine and version, hypertable/policies or partitions/maintenance, row counts,
time ranges and last-24h counts per table, rule/anomaly/OEE counts, maintenance runs, DLQ depths.
Database: DATABASE_URL (or DB_SECRET_ARN, DB_HOST+DB_AUTH=iam), else the local runner's database kept
in --data-dir (default .tapline/local). Queues: the local run's SQS endpoint, AWS_ENDPOINT_URL_SQS, or
--queue-prefix (e.g. tapline-prod) with the usual AWS configuration.
Exit status: 0 green (warnings allowed), 1 red or failed, 2 usage.`;

runCommand(
  {
    usage: USAGE,
    options: {
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      'queue-prefix': { type: 'string' },
    },
  },
  async ({ values: flags }) => {
    const cli = await openCliDatabase(flags['data-dir'], 'npm run verify');
    try {
      const status = await collectWarehouseStatus(cli.db);
      const target = queueTarget(cli, flags['queue-prefix']);
      // No queue to probe on a local data dir whose run ended: the messages it kept are its queues.
      const queues = (!target && cli.dir ? await keptQueues(cli.dir.queues) : undefined) ?? (await probeQueues(target));
      const overall = worst([...status.checks, ...queues.checks]);
      if (flags.json) console.log(JSON.stringify({ ...status, status: overall, queues }, null, 2));
      else console.log(renderVerifyReport(cli.description, status, queues, overall));
      return overall === 'red' ? 1 : 0;
    } finally {
      await cli.close();
    }
  },
);

function queueTarget(cli: CliDatabase, prefix: string | undefined): QueueTarget | null {
  const fromRun = cli.connection?.sqsEndpoint;
  const endpoint = fromRun ?? process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL;
  if (!endpoint && !prefix) return null;
  const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret } = process.env;
  return {
    prefix: prefix ?? `tapline-${cli.env.STAGE}`,
    region: cli.connection?.region ?? cli.env.AWS_REGION,
    ...(endpoint ? { endpoint } : {}),
    ...(id && secret ? { credentials: { accessKeyId: id, secretAccessKey: secret } } : {}),
  };
}

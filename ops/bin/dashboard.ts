import { openCliDatabase } from '../../local/cli/database.ts';
import { onInterrupt } from '../../local/cli/interrupt.ts';
import { note, portNumber, runCommand } from '../../local/cli/run.ts';
import { DEFAULT_UI_PORT, startView } from '../../local/live/startView.ts';

const USAGE = `npm run dashboard -- [--data-dir DIR] [--port ${DEFAULT_UI_PORT}]
Serves the live view's page from the warehouse alone, on 127.0.0.1 until Ctrl-C: telemetry_1min
charts per unit and fact, rule firing and anomaly history, OEE per unit, ingest delay.
Database: DATABASE_URL (or DB_SECRET_ARN, DB_HOST+DB_AUTH=iam), else the local runner's database kept
in --data-dir (default .tapline/local). --port: another free port if it is taken; 0: any free port.
Exit status: 130 when stopped with Ctrl-C (143 with SIGTERM), 1 failed, 2 usage.`;

runCommand(
  {
    usage: USAGE,
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
    },
  },
  async ({ values: flags }) => {
    const port = portNumber('port', flags.port, DEFAULT_UI_PORT);
    const cli = await openCliDatabase(flags['data-dir'], 'npm run dashboard');
    try {
      const running = await startView({ mode: 'dashboard', db: cli.db }, port);
      note(`dashboard: ${running.url}${running.portWasBusy ? ` (port ${port} was taken)` : ''}; Ctrl-C to stop`);
      const signal = await new Promise<NodeJS.Signals>((stop) => {
        onInterrupt(() => stop('SIGINT'));
        process.once('SIGTERM', stop);
      });
      await running.close();
      // Stopped by a signal, the status says so, as the shell's 128 + N.
      return signal === 'SIGINT' ? 130 : 143;
    } finally {
      await cli.close();
    }
  },
);

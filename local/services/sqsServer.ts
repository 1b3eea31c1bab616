import { startSqs } from './sqs.ts';

// Child-process entry of sqsProcess.ts: prints the endpoint, serves until killed.
const sqs = await startSqs();
process.stdout.write(`${sqs.endpoint}\n`);
process.on('SIGTERM', () => void sqs.stop().then(() => process.exit(0)));

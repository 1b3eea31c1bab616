import { startKinesis } from './kinesis.ts';
import type { EmulatorName } from './serviceProcess.ts';
import { startSqs } from './sqs.ts';

// Child-process entry of serviceProcess.ts: starts one emulator, prints its endpoint, serves until killed.
const name = process.argv[2] as EmulatorName;
const service = name === 'kinesis' ? await startKinesis() : await startSqs();
process.stdout.write(`${service.endpoint}\n`);
process.on('SIGTERM', () => void service.stop().then(() => process.exit(0)));

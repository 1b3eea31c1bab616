import kinesalite from 'kinesalite';

export interface LocalKinesis {
  endpoint: string;
  stop(): Promise<void>;
}

/** kinesalite: a Kinesis API emulator (in memory), driven by the real @aws-sdk/client-kinesis. */
export async function startKinesis(port = 0): Promise<LocalKinesis> {
  const server = kinesalite({ createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50, shardLimit: 100 });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('kinesalite did not bind');
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    stop: () => new Promise((ok) => server.close(() => ok())),
  };
}

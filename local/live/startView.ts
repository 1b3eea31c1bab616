import { serveView } from './server.ts';
import { View, type ViewOptions } from './view.ts';

/** Where `npm run local` and `npm run dashboard` serve the page when the port is free. */
export const DEFAULT_UI_PORT = 4280;

export interface RunningView {
  url: string;
  portWasBusy: boolean;
  view: View;
  close(): Promise<void>;
}

export async function startView(options: ViewOptions, port: number): Promise<RunningView> {
  const view = new View(options);
  const server = await serveView(view, port);
  view.start();
  return {
    url: server.url,
    portWasBusy: server.portWasBusy,
    view,
    async close() {
      await view.stop();
      await server.close();
    },
  };
}

import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A TFT price feed on this machine, for tests: it answers `body`, fails, or never answers. */
export interface PriceServer {
  url: string;
  body: unknown;
  mode: 'answer' | 'fail' | 'hang';
  /** Requests it has had. */
  requests: number;
  close(): Promise<void>;
}

export async function startPriceServer(body: unknown): Promise<PriceServer> {
  const hanging = new Set<ServerResponse>();
  const server = createServer((_request, response) => {
    feed.requests += 1;
    if (feed.mode === 'hang') {
      hanging.add(response);
      return;
    }
    if (feed.mode === 'fail') {
      response.writeHead(503, { 'content-type': 'text/plain' }).end('upstream unavailable');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(feed.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const feed: PriceServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tft`,
    body,
    mode: 'answer',
    requests: 0,
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return feed;
}

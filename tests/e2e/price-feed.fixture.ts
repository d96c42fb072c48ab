import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PriceFeed {
  /** One URL per source, each answering `{ "price": "<usd per TFT>" }`. */
  urls: string[];
  close(): Promise<void>;
}

/** Price sources for the oracle: real local HTTP servers, one per price. */
export async function startPriceFeed(prices: string[]): Promise<PriceFeed> {
  const servers: Server[] = [];
  const urls: string[] = [];
  for (const price of prices) {
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ price }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}/price`);
  }
  return {
    urls,
    close: async () => {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

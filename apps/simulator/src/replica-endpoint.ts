import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const GOSSIP_PATH = '/nodes/';

/**
 * One tiny HTTP server standing for every virtual node's machine: it answers any path for every
 * virtual replica (they all report this one address), and it is each virtual node's gossip
 * address at `/nodes/<nodeId>`, answering 404 as a gossip server answers a GET while the node
 * lives. A node silenced here has its connections reset, as a dead machine's would be refused,
 * so anyone probing it — a real agent or a virtual one — finds it down.
 */
export class ReplicaEndpoint {
  readonly #server: Server;
  readonly #silenced = new Set<string>();
  #port = 0;

  constructor(private readonly host = '127.0.0.1') {
    this.#server = createServer((request, response) => {
      const url = request.url ?? '/';
      if (url.startsWith(GOSSIP_PATH)) {
        if (this.#silenced.has(url.slice(GOSSIP_PATH.length).split('/')[0]!)) {
          request.socket.destroy();
          return;
        }
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    });
    // Every virtual replica and probe shares this one server: keep connections short-lived.
    this.#server.keepAliveTimeout = 1000;
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, this.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** `host:port`, as an agent reports a replica's address. */
  get address(): string {
    if (this.#port === 0) throw new Error('the replica endpoint is not listening: call start() first');
    return `${this.host}:${this.#port}`;
  }

  gossipAddressOf(nodeId: string): string {
    return `http://${this.address}${GOSSIP_PATH}${nodeId}`;
  }

  /** The node's machine is gone: its gossip address stops answering. */
  silence(nodeId: string): void {
    this.#silenced.add(nodeId);
  }

  isSilenced(nodeId: string): boolean {
    return this.#silenced.has(nodeId);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

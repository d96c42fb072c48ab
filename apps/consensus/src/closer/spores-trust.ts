import { ErrorCodes, SetNodeTrust, type TrustChangedV1 } from '@mycelium/contracts';
import type { CommandClient } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

type TrustNews = Pick<TrustChangedV1, 'nodeId' | 'to' | 'reason'>;

/** Sends in flight at once: the spores service answers each once its registry shows it. */
const CONCURRENCY = 16;

/**
 * The spores registry's copy of each node's trust (its tier rules and placement read it), told in
 * the background so that closing a round never waits on another service. Only the newest value of
 * a node is sent: one told while an older one is in flight follows it, so the registry ends on the
 * newest. A change that cannot be told is logged; a new closer re-tells the last minute's.
 */
export class SporesTrust {
  readonly #waiting = new Map<string, TrustNews>();
  readonly #sending = new Set<string>();
  #stopped = false;

  constructor(
    private readonly client: CommandClient,
    private readonly logger: Logger,
  ) {}

  tell(changes: TrustNews[]): void {
    if (this.#stopped) return;
    for (const change of changes) this.#waiting.set(change.nodeId, change);
    this.#pump();
  }

  stop(): void {
    this.#stopped = true;
    this.#waiting.clear();
  }

  #pump(): void {
    for (const [nodeId, change] of this.#waiting) {
      if (this.#sending.size >= CONCURRENCY) return;
      if (this.#sending.has(nodeId)) continue;
      this.#waiting.delete(nodeId);
      this.#sending.add(nodeId);
      void this.#send(change).finally(() => {
        this.#sending.delete(nodeId);
        this.#pump();
      });
    }
  }

  async #send({ nodeId, to, reason }: TrustNews): Promise<void> {
    if (this.#stopped) return;
    try {
      const reply = await this.client.send(SetNodeTrust, { nodeId, trust: to, reason });
      // A node the registry does not know has no score there to set.
      if (!reply.ok && reply.error.code !== ErrorCodes.NotFound) this.logger.warn({ nodeId, code: reply.error.code }, `the spores service refused the trust of node ${nodeId}: ${reply.error.message}`);
    } catch (error) {
      this.logger.warn({ err: error, nodeId }, `could not tell the spores service the trust of node ${nodeId}`);
    }
  }
}

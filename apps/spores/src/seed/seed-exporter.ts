import { fileURLToPath } from 'node:url';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { SeedSnapshotV1 } from '@mycelium/contracts';
import { sealEnvelope, writeFileAtomically } from '@mycelium/identity';
import { SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { Leadership } from '../leadership/leadership.js';
import { NodeRegistry } from '../registry/node-registry.js';
import { SPORES_CONFIG, type SporesConfig } from '../spores.config.js';

/**
 * The seed spore: after every change of the directory, the leader writes a snapshot signed with
 * the network key to a file or an HTTP URL, from where a node that cannot reach NATS boots.
 */
@Injectable()
export class SeedExporter implements OnApplicationBootstrap, OnModuleDestroy {
  #timer: NodeJS.Timeout | undefined;
  #refresh: NodeJS.Timeout | undefined;
  #destroyed = false;
  #exporting: Promise<void> | undefined;
  #again = false;
  #stopListening: (() => void) | undefined;
  #exported = 0;

  constructor(
    @Inject(SPORES_CONFIG) private readonly config: SporesConfig,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    private readonly registry: NodeRegistry,
    private readonly leadership: Leadership,
  ) {}

  /** Snapshots written since start. */
  get exported(): number {
    return this.#exported;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.seedExport) return;
    if (!this.config.network?.signer) {
      this.logger.warn('no network key here: the seed snapshot is not exported (myc network init creates one)');
      return;
    }
    await this.registry.ready;
    if (this.#destroyed) return;
    this.#stopListening = this.registry.onChange(() => this.#schedule());
    this.leadership.onChange((leader) => leader && this.#schedule());
    this.#schedule();
    this.#refresh = setInterval(() => this.#schedule(), this.config.seedRefreshMs ?? 3_600_000);
  }

  onModuleDestroy(): void {
    this.#destroyed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#refresh);
    this.#stopListening?.();
  }

  #schedule(): void {
    if (this.#timer || this.#destroyed) return;
    // Changes come in bursts (a thousand nodes joining): one snapshot per burst.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.leadership.isLeader) return;
      if (this.#exporting) {
        this.#again = true;
        return;
      }
      this.#exporting = this.#export()
        .catch((error: unknown) => this.logger.warn({ err: error, target: this.config.seedExport }, 'could not export the seed snapshot'))
        .finally(() => {
          this.#exporting = undefined;
          if (this.#again) {
            this.#again = false;
            this.#schedule();
          }
        });
    }, 200);
  }

  snapshot(): SeedSnapshotV1 {
    return {
      kind: 'seed-snapshot',
      version: 1,
      network: this.config.network!.info.networkId,
      position: this.registry.position.toString(),
      issuedAt: new Date().toISOString(),
      natsServers: this.config.natsServers,
      nodes: this.registry.peers({ statuses: ['alive', 'late', 'suspected', 'down'] }),
    };
  }

  async #export(): Promise<void> {
    const target = this.config.seedExport!;
    const body = `${JSON.stringify(sealEnvelope(this.config.network!.signer!, this.snapshot()))}\n`;
    if (/^https?:\/\//.test(target)) {
      const response = await fetch(target, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
      if (!response.ok) throw new Error(`PUT ${target} answered ${response.status}`);
    } else {
      writeFileAtomically(target.startsWith('file://') ? fileURLToPath(target) : target, body);
    }
    this.#exported += 1;
  }
}

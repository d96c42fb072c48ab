import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { EventStore, Lease } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

/**
 * One spores instance at a time judges liveness, applies tier rules and exports the seed
 * snapshot: the holder of a lease. The others keep their state warm and take over within a second
 * when the holder dies.
 */
@Injectable()
export class Leadership implements OnApplicationBootstrap, OnModuleDestroy {
  #lease: Lease | undefined;
  #since = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #listeners = new Set<(leader: boolean) => void>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  get isLeader(): boolean {
    return this.#lease?.isHeld === true;
  }

  /** When this instance became leader (ms since the epoch); 0 when it is not. */
  get leaderSince(): number {
    return this.isLeader ? this.#since : 0;
  }

  onChange(listener: (leader: boolean) => void): void {
    this.#listeners.add(listener);
  }

  onApplicationBootstrap(): void {
    void this.#tryLead();
  }

  async onModuleDestroy(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#lease?.release().catch(() => undefined);
  }

  async #tryLead(): Promise<void> {
    if (this.#stopped) return;
    if (!this.isLeader) {
      try {
        const lease = await this.store.tryAcquireLease('spores-leader');
        if (lease && !this.#stopped) {
          this.#lease = lease;
          this.#since = Date.now();
          this.logger.info('this spores instance leads: it judges liveness and tiers');
          for (const listener of this.#listeners) listener(true);
          void lease.lost.then(() => {
            if (this.#stopped) return;
            this.logger.warn('this spores instance lost the lead');
            for (const listener of this.#listeners) listener(false);
          });
        } else {
          await lease?.release();
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'could not ask for the spores lead');
      }
    }
    this.#timer = setTimeout(() => void this.#tryLead(), 1000);
    this.#timer.unref();
  }
}

import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { EventStore, Lease } from '@mycelium/eventstore';
import { EVENT_STORE, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';

export const METERING_LEASE = 'billing-metering';

/**
 * One billing instance at a time runs the metering loop: the holder of a lease (the event store's
 * advisory lock, as the spores service's leader and the relay use). The others take over within a
 * second when it dies. The lease only spares work: the expected version on each account already
 * keeps two loops from charging a period twice.
 */
@Injectable()
export class Leadership implements OnApplicationBootstrap, OnModuleDestroy {
  #lease: Lease | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  get isLeader(): boolean {
    return this.#lease?.isHeld === true;
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
        const lease = await this.store.tryAcquireLease(METERING_LEASE);
        if (lease && !this.#stopped) {
          this.#lease = lease;
          this.logger.info('this billing instance meters the apps');
          void lease.lost.then(() => {
            if (!this.#stopped) this.logger.warn('this billing instance lost the metering lease');
          });
        } else {
          await lease?.release();
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'could not ask for the metering lease');
      }
    }
    this.#timer = setTimeout(() => void this.#tryLead(), 1000);
    this.#timer.unref();
  }
}

import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ErrorCodes, SuspendApp, UsageCharged } from '@mycelium/contracts';
import { COMMAND_CLIENT, type CommandClient, SERVICE_LOGGER } from '@mycelium/messaging';
import type { Logger } from '@mycelium/telemetry';
import { Accounts } from '../accounts/accounts.js';
import { BILLING_CONFIG, type BillingConfig } from '../billing.config.js';
import { nextWorkAt } from '../domain/account/account.decider.js';
import { Leadership } from './leadership.js';

/** Periods charged per account in one go, so catching up after a long outage stays in small appends. */
const MAX_CHARGES_PER_TURN = 500;

/**
 * Charges each metered app at the start of each period, on the instance holding the metering
 * lease. It looks often (a tenth of a period, at most every second) but only works on accounts
 * whose next period has started, whose debt can be paid or has outlived its grace, or whose
 * suspension the deployment service has not yet answered. What to charge is the decider's: a period
 * is charged once whichever instance, and however late, gets to it.
 */
@Injectable()
export class MeteringLoop implements OnApplicationBootstrap, OnModuleDestroy {
  #timer: NodeJS.Timeout | undefined;
  #turn: Promise<void> | undefined;
  /** Apps whose suspension could not be delivered, warned about once until it is. */
  readonly #undelivered = new Set<string>();

  constructor(
    @Inject(BILLING_CONFIG) private readonly config: BillingConfig,
    @Inject(COMMAND_CLIENT) private readonly client: CommandClient,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    private readonly accounts: Accounts,
    private readonly leadership: Leadership,
  ) {}

  onApplicationBootstrap(): void {
    const every = Math.max(20, Math.min(1000, Math.floor(this.config.periodMs / 10)));
    this.#timer = setInterval(() => {
      this.#turn ??= this.#run().finally(() => (this.#turn = undefined));
    }, every);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.#timer);
    await this.#turn;
  }

  async #run(): Promise<void> {
    if (!this.leadership.isLeader) return;
    const now = Date.now();
    for (const [tenant, { state }] of [...this.accounts.known()]) {
      const at = nextWorkAt(state, this.config.graceMs);
      if (at === undefined || at > now) continue;
      try {
        await this.#work(tenant);
      } catch (error) {
        this.logger.warn({ err: error, tenant }, 'could not meter an account; trying again shortly');
      }
    }
  }

  async #work(tenant: string): Promise<void> {
    const { state, newEvents } = await this.accounts.execute(tenant, {
      type: 'ChargeDuePeriods',
      data: { tenant, now: new Date().toISOString(), graceMs: this.config.graceMs, lowBalancePeriods: this.config.lowBalancePeriods, maxCharges: MAX_CHARGES_PER_TURN },
    });
    for (const event of newEvents) {
      if (event.type !== UsageCharged.type) this.logger.info({ tenant, event: event.type, data: event.data }, 'account needs attention');
    }
    for (const meter of Object.values(state.meters)) {
      if (meter.status === 'suspended' && !meter.suspensionConfirmed) await this.#suspend(tenant, meter.appId);
    }
  }

  /** Asks the deployment service to suspend the app until it answers; SuspendApp is idempotent. */
  async #suspend(tenant: string, appId: string): Promise<void> {
    const key = `${tenant}/${appId}`;
    const reply = await this.client.send(
      SuspendApp,
      { appId, tenant, reason: `the credits of ${tenant} ran out and stayed unpaid past the grace period: top up (myc credits add) to pay what is owed` },
      { timeoutMs: 5000 },
    );
    if (!reply.ok && reply.error.code !== ErrorCodes.NotFound) {
      if (!this.#undelivered.has(key)) this.logger.warn({ tenant, appId, error: reply.error }, 'could not ask the deployment service to suspend an app; asking again');
      this.#undelivered.add(key);
      return;
    }
    this.#undelivered.delete(key);
    await this.accounts.execute(tenant, { type: 'ConfirmSuspension', data: { tenant, appId, suspended: reply.ok ? reply.result.suspended : false, now: new Date().toISOString() } });
  }
}

import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { type MeterResult, StopMeter, type StopMeterResult, type StopMeterV1, UpdateMeter, type UpdateMeterV1 } from '@mycelium/contracts';
import { type CommandContext, OnCommand } from '@mycelium/messaging';
import { Accounts } from '../accounts/accounts.js';
import { BILLING_CONFIG, type BillingConfig } from '../billing.config.js';
import { amountText, money } from '../domain/money.js';

/** Changes to a running app's meter: scaled or moved, or removed. */
@Controller()
export class MeterHandlers {
  constructor(
    private readonly accounts: Accounts,
    @Inject(BILLING_CONFIG) private readonly config: BillingConfig,
  ) {}

  @OnCommand(UpdateMeter)
  async update(@Payload() request: UpdateMeterV1, @Ctx() ctx: CommandContext): Promise<MeterResult> {
    const { state, newEvents } = await this.accounts.execute(
      request.tenant,
      { type: 'UpdateMeter', data: { ...request, rates: this.config.rates, now: new Date().toISOString() } },
      ctx.eventMetadata,
    );
    const rate = state.meters[request.appId]!.rates.at(-1)!;
    return { appId: request.appId, changed: newEvents.length > 0, fromPeriod: rate.fromPeriod, periodTotal: amountText(money(rate.cost).plus(rate.commission)) };
  }

  @OnCommand(StopMeter)
  async stop(@Payload() request: StopMeterV1, @Ctx() ctx: CommandContext): Promise<StopMeterResult> {
    const { state, newEvents } = await this.accounts.execute(request.tenant, { type: 'StopMeter', data: { ...request, now: new Date().toISOString() } }, ctx.eventMetadata);
    return { appId: request.appId, alreadyStopped: newEvents.length === 0, lastPeriod: state.meters[request.appId]!.lastPeriod ?? 0 };
  }
}

import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  CaptureReservation,
  type CaptureReservationV1,
  type CaptureResult,
  type Conversion,
  ConvertCredits,
  type ConvertCreditsV1,
  ReleaseReservation,
  type ReleaseReservationV1,
  type ReleaseResult,
  type ReservationQuote,
  ReserveCredits,
  type ReserveCreditsV1,
} from '@mycelium/contracts';
import { type CommandContext, OnCommand } from '@mycelium/messaging';
import { Accounts } from '../accounts/accounts.js';
import { BILLING_CONFIG, type BillingConfig } from '../billing.config.js';
import type { AccountState, Reservation } from '../domain/account/account.js';
import { conversionOf } from '../domain/account/account.decider.js';
import { amountText, money } from '../domain/money.js';
import { BUFFER_PERCENT, convertAtAverage } from '../domain/oracle.js';
import { PriceSources } from '../prices/price-sources.js';

/** The reservation's answer; the decider has just recorded it or found it recorded. */
const reservationIn = (state: AccountState, reservationId: string): Reservation => state.reservations[reservationId]!;

/**
 * What the deployment service asks of billing for a rollout: hold the first period, convert the
 * nodes' share to TFT, then pay it on success or refund it on failure. Every command answers the
 * same when sent again.
 */
@Controller()
export class ReservationHandlers {
  constructor(
    private readonly accounts: Accounts,
    private readonly prices: PriceSources,
    @Inject(BILLING_CONFIG) private readonly config: BillingConfig,
  ) {}

  @OnCommand(ReserveCredits)
  async reserve(@Payload() request: ReserveCreditsV1, @Ctx() ctx: CommandContext): Promise<ReservationQuote> {
    const { state } = await this.accounts.execute(
      request.tenant,
      {
        type: 'ReserveCredits',
        data: {
          ...request,
          purpose: request.purpose ?? 'deploy',
          rates: this.config.rates,
          periodSeconds: this.config.periodMs / 1000,
          currency: this.config.currency.code,
          now: new Date().toISOString(),
        },
      },
      ctx.eventMetadata,
    );
    const { reservationId, cost, commission, total, currency, periodSeconds } = reservationIn(state, request.reservationId);
    return { reservationId, cost, commission, total, currency, periodSeconds };
  }

  @OnCommand(ConvertCredits)
  async convert(@Payload() request: ConvertCreditsV1, @Ctx() ctx: CommandContext): Promise<Conversion> {
    const due = conversionOf((await this.accounts.load(request.tenant)).state, request.reservationId);
    if ('recorded' in due) return due.recorded;
    const usd = amountText(money(due.cost).times(this.config.currency.usdRate));
    const conversion = convertAtAverage(request.reservationId, usd, await this.prices.ask(), {
      maxSlippagePercent: this.config.maxSlippagePercent,
      bufferPercent: BUFFER_PERCENT,
    });
    const { state } = await this.accounts.execute(request.tenant, { type: 'RecordConversion', data: { tenant: request.tenant, conversion, now: new Date().toISOString() } }, ctx.eventMetadata);
    // Another instance may have recorded one first: that one stands.
    return reservationIn(state, request.reservationId).conversion!;
  }

  @OnCommand(CaptureReservation)
  async capture(@Payload() request: CaptureReservationV1, @Ctx() ctx: CommandContext): Promise<CaptureResult> {
    const { state } = await this.accounts.execute(request.tenant, { type: 'CaptureReservation', data: { ...request, now: new Date().toISOString() } }, ctx.eventMetadata);
    const reservation = reservationIn(state, request.reservationId);
    return { captured: reservation.captured ?? reservation.total, ...(reservation.released ? { released: reservation.released } : {}) };
  }

  @OnCommand(ReleaseReservation)
  async release(@Payload() request: ReleaseReservationV1, @Ctx() ctx: CommandContext): Promise<ReleaseResult> {
    const { state, newEvents } = await this.accounts.execute(request.tenant, { type: 'ReleaseReservation', data: { ...request, now: new Date().toISOString() } }, ctx.eventMetadata);
    const reservation = reservationIn(state, request.reservationId);
    return { released: reservation.released ?? reservation.total, alreadyReleased: newEvents.length === 0 };
  }
}

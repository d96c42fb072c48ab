import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import {
  type AccountView,
  DEFAULT_LEDGER_LIMIT,
  GetAccount,
  type GetAccountV1,
  GetLedger,
  type GetLedgerV1,
  type LedgerView,
  TopUpCredits,
  type TopUpCreditsV1,
  type TopUpResult,
} from '@mycelium/contracts';
import { type CommandContext, OnCommand } from '@mycelium/messaging';
import { Accounts } from '../accounts/accounts.js';
import { BILLING_CONFIG, type BillingConfig } from '../billing.config.js';
import { availableOf, reservedOf } from '../domain/account/account.js';

/** A tenant's credits: topping up, the balance, the ledger. */
@Controller()
export class AccountHandlers {
  constructor(
    private readonly accounts: Accounts,
    @Inject(BILLING_CONFIG) private readonly config: BillingConfig,
  ) {}

  @OnCommand(TopUpCredits)
  async topUp(@Payload() request: TopUpCreditsV1, @Ctx() ctx: CommandContext): Promise<TopUpResult> {
    const { state, newEvents } = await this.accounts.execute(request.tenant, { type: 'TopUpCredits', data: { ...request, now: new Date().toISOString() } }, ctx.eventMetadata);
    return { tenant: request.tenant, credited: newEvents.length > 0, balance: availableOf(state) };
  }

  @OnCommand(GetAccount)
  async get(@Payload() request: GetAccountV1): Promise<AccountView> {
    const { state } = await this.accounts.load(request.tenant);
    return { tenant: request.tenant, balance: availableOf(state), reserved: reservedOf(state), currency: this.config.currency };
  }

  @OnCommand(GetLedger)
  async ledger(@Payload() request: GetLedgerV1): Promise<LedgerView> {
    return this.accounts.ledger(request.tenant, request.limit ?? DEFAULT_LEDGER_LIMIT);
  }
}

import {
  AppSuspensionConfirmed,
  AppSuspensionRequested,
  BalanceExhausted,
  BalanceLow,
  type BilledResourcesV1,
  BillingErrors,
  CommandRejection,
  type Conversion,
  CreditsConverted,
  CreditsReserved,
  CreditsToppedUp,
  ErrorCodes,
  LedgerAccounts,
  type LedgerEntryV1,
  MeterStarted,
  MeterStopped,
  MeterUpdated,
  ReservationCaptured,
  type ReservationPurpose,
  ReservationReleased,
  UsageCharged,
} from '@mycelium/contracts';
import type { Decider } from '@mycelium/eventstore';
import { amountText, type Money, money, splitEvenly, sum, ZERO } from '../money.js';
import { priceOfPeriod, type RateCard, rescale } from '../pricing.js';
import {
  type AccountEvent,
  type AccountState,
  availableOf,
  evolveAccount,
  initialAccountState,
  type Meter,
  periodAt,
  periodStart,
  rateFor,
  type Reservation,
} from './account.js';

/** What can happen to an account. Time, prices and rules come in as data: the decider reads no clock or config. */
export type AccountCommand =
  | { type: 'TopUpCredits'; data: { tenant: string; amount: string; reference: string; now: string } }
  | {
      type: 'ReserveCredits';
      data: {
        tenant: string;
        reservationId: string;
        appId: string;
        replicas: number;
        resources: BilledResourcesV1;
        purpose: ReservationPurpose;
        rates: RateCard;
        periodSeconds: number;
        currency: string;
        now: string;
      };
    }
  | { type: 'RecordConversion'; data: { tenant: string; conversion: Conversion; now: string } }
  | { type: 'CaptureReservation'; data: { tenant: string; reservationId: string; nodes: string[]; now: string } }
  | { type: 'ReleaseReservation'; data: { tenant: string; reservationId: string; reason: string; now: string } }
  | {
      type: 'UpdateMeter';
      data: { tenant: string; appId: string; replicas: number; resources: BilledResourcesV1; nodes: string[]; rates: RateCard; now: string };
    }
  | { type: 'StopMeter'; data: { tenant: string; appId: string; now: string } }
  | {
      type: 'ChargeDuePeriods';
      data: {
        tenant: string;
        now: string;
        /** How long a period may stay unpaid before the app is suspended. */
        graceMs: number;
        /** Below this many periods of metered cost, the balance is low. */
        lowBalancePeriods: number;
        /** At most this many periods in one go (catching up after a long outage). */
        maxCharges: number;
      };
    }
  | { type: 'ConfirmSuspension'; data: { tenant: string; appId: string; suspended: boolean; now: string } };

function notFound(message: string, field: string): CommandRejection {
  return new CommandRejection({ code: ErrorCodes.NotFound, message, field });
}

function illegal(message: string): CommandRejection {
  return new CommandRejection({ code: ErrorCodes.IllegalState, message });
}

function reservationOf(state: AccountState, reservationId: string): Reservation {
  const reservation = state.reservations[reservationId];
  if (!reservation) throw notFound(`${state.tenant ?? 'this tenant'} has no reservation ${reservationId}: reserve credits first (credits.reserve)`, 'reservationId');
  return reservation;
}

function meterOf(state: AccountState, appId: string): Meter {
  const meter = state.meters[appId];
  if (!meter) throw notFound(`billing meters no app ${appId} of ${state.tenant ?? 'this tenant'}: it starts metering when a deploy’s reservation is captured`, 'appId');
  return meter;
}

/** One entry, or none for a zero amount (the ledger records only movements). */
const entry = (debit: string, credit: string, amount: Money): LedgerEntryV1[] => (amount.isZero() ? [] : [{ debit, credit, amount: amountText(amount) }]);

/** `amount` from `debit` to the nodes, split evenly over `nodes` (a node listed twice takes two shares). */
function toNodes(debit: string, nodes: string[], amount: Money): LedgerEntryV1[] {
  const shares = splitEvenly(amount, nodes.length);
  const byNode = new Map<string, Money>();
  nodes.forEach((nodeId, index) => byNode.set(nodeId, (byNode.get(nodeId) ?? ZERO).plus(shares[index]!)));
  return [...byNode].flatMap(([nodeId, share]) => entry(debit, LedgerAccounts.earnings(nodeId), share));
}

/** The tenant's payment of `cost` to the nodes and `commission` to the platform. */
const payment = (debit: string, nodes: string[], cost: string, commission: string): LedgerEntryV1[] => [
  ...entry(debit, LedgerAccounts.commission, money(commission)),
  ...toNodes(debit, nodes, money(cost)),
];

const sameShape = (a: { replicas: number; resources: BilledResourcesV1; nodes: string[] }, b: typeof a) =>
  a.replicas === b.replicas &&
  a.resources.cpu === b.resources.cpu &&
  a.resources.memoryMiB === b.resources.memoryMiB &&
  a.resources.storageGiB === b.resources.storageGiB &&
  a.nodes.length === b.nodes.length &&
  a.nodes.every((node, index) => node === b.nodes[index]);

function insufficientCredits(tenant: string, required: string, available: string, currency: string): CommandRejection {
  return new CommandRejection({
    code: BillingErrors.InsufficientCredits,
    message:
      `${tenant} has ${available} ${currency} to spend but this needs ${required} ${currency}: ` +
      `top up with \`myc credits add <amount> --reference <payment id> --tenant ${tenant}\` or POST /v1/account/credits`,
    details: { required, available, currency },
  });
}

/**
 * A reservation's recorded conversion, or the cost (the node owners' share) still to convert.
 * Refuses an unknown reservation and a released one (nothing is left to pay the nodes).
 */
export function conversionOf(state: AccountState, reservationId: string): { recorded: Conversion } | { cost: string } {
  const reservation = reservationOf(state, reservationId);
  if (reservation.conversion) return { recorded: reservation.conversion };
  if (reservation.status === 'released') throw illegal(`reservation ${reservationId} was released: there is nothing to convert`);
  return { cost: reservation.cost };
}

export function decideAccount(command: AccountCommand, state: AccountState): AccountEvent[] {
  switch (command.type) {
    case 'TopUpCredits': {
      const { tenant, amount, reference, now } = command.data;
      const credited = state.references[reference];
      if (credited !== undefined) {
        if (money(credited).equals(amount)) return [];
        throw new CommandRejection({
          code: ErrorCodes.IllegalState,
          message: `reference ${reference} already credited ${credited}, not ${amountText(money(amount))}: a different payment needs a reference of its own`,
          field: 'reference',
        });
      }
      return [
        {
          type: CreditsToppedUp.type,
          data: { tenant, amount: amountText(money(amount)), reference, entries: entry(LedgerAccounts.payments, LedgerAccounts.available(tenant), money(amount)), at: now },
        },
      ];
    }
    case 'ReserveCredits': {
      const { data } = command;
      if (state.reservations[data.reservationId]) return [];
      const price = priceOfPeriod(data.rates, data, data.periodSeconds);
      const available = availableOf(state);
      if (money(available).lessThan(price.total)) throw insufficientCredits(data.tenant, price.total, available, data.currency);
      return [
        {
          type: CreditsReserved.type,
          data: {
            tenant: data.tenant,
            reservationId: data.reservationId,
            appId: data.appId,
            replicas: data.replicas,
            resources: data.resources,
            purpose: data.purpose,
            ...price,
            currency: data.currency,
            periodSeconds: data.periodSeconds,
            entries: entry(LedgerAccounts.available(data.tenant), LedgerAccounts.reserved(data.tenant), money(price.total)),
            at: data.now,
          },
        },
      ];
    }
    case 'RecordConversion': {
      const { tenant, conversion, now } = command.data;
      if ('recorded' in conversionOf(state, conversion.reservationId)) return [];
      return [{ type: CreditsConverted.type, data: { tenant, ...conversion, at: now } }];
    }
    case 'CaptureReservation': {
      const { tenant, reservationId, nodes, now } = command.data;
      const reservation = reservationOf(state, reservationId);
      if (reservation.status === 'captured') return [];
      if (reservation.status === 'released') throw illegal(`reservation ${reservationId} was released (refunded): it cannot be captured; reserve again`);
      const periodMs = Math.round(reservation.periodSeconds * 1000);
      if (reservation.purpose === 'update') {
        const meter = meterOf(state, reservation.appId);
        if (meter.status !== 'running') throw illegal(`app ${reservation.appId} is ${meter.status}: an update of it cannot be metered; release the reservation`);
        const rate = rescale(reservation, periodMs, meter.periodMs);
        return [
          {
            type: ReservationReleased.type,
            data: {
              tenant,
              reservationId,
              amount: reservation.total,
              reason: 'the update succeeded: it was guaranteed, and the meter charges its new shape from the next period',
              byCapture: true,
              entries: entry(LedgerAccounts.reserved(tenant), LedgerAccounts.available(tenant), money(reservation.total)),
              at: now,
            },
          },
          {
            type: MeterUpdated.type,
            data: {
              tenant,
              appId: reservation.appId,
              reservationId,
              replicas: reservation.replicas,
              resources: reservation.resources,
              nodes,
              ...rate,
              fromPeriod: periodAt(meter, Date.parse(now)) + 1,
              at: now,
            },
          },
        ];
      }
      return [
        {
          type: ReservationCaptured.type,
          data: {
            tenant,
            reservationId,
            appId: reservation.appId,
            nodes,
            captured: reservation.total,
            entries: payment(LedgerAccounts.reserved(tenant), nodes, reservation.cost, reservation.commission),
            at: now,
          },
        },
        {
          type: MeterStarted.type,
          data: {
            tenant,
            appId: reservation.appId,
            reservationId,
            replicas: reservation.replicas,
            resources: reservation.resources,
            nodes,
            periodMs,
            cost: reservation.cost,
            commission: reservation.commission,
            at: now,
          },
        },
      ];
    }
    case 'ReleaseReservation': {
      const { tenant, reservationId, reason, now } = command.data;
      const reservation = reservationOf(state, reservationId);
      if (reservation.status === 'released') return [];
      if (reservation.status === 'captured') throw illegal(`reservation ${reservationId} was captured (the deploy succeeded): it cannot be released; stop the app’s meter instead`);
      return [
        {
          type: ReservationReleased.type,
          data: { tenant, reservationId, amount: reservation.total, reason, entries: entry(LedgerAccounts.reserved(tenant), LedgerAccounts.available(tenant), money(reservation.total)), at: now },
        },
      ];
    }
    case 'UpdateMeter': {
      const { tenant, appId, replicas, resources, nodes, rates, now } = command.data;
      const meter = meterOf(state, appId);
      const latest = meter.rates.at(-1)!;
      if (meter.status !== 'running') {
        if (sameShape(latest, { replicas, resources, nodes })) return [];
        throw illegal(`app ${appId} is ${meter.status}: its meter cannot change`);
      }
      const price = priceOfPeriod(rates, { replicas, resources }, meter.periodMs / 1000);
      if (sameShape(latest, { replicas, resources, nodes }) && latest.cost === price.cost && latest.commission === price.commission) return [];
      return [
        {
          type: MeterUpdated.type,
          data: { tenant, appId, replicas, resources, nodes, cost: price.cost, commission: price.commission, fromPeriod: periodAt(meter, Date.parse(now)) + 1, at: now },
        },
      ];
    }
    case 'StopMeter': {
      const { tenant, appId, now } = command.data;
      const meter = meterOf(state, appId);
      if (meter.status !== 'running') return [];
      return [{ type: MeterStopped.type, data: { tenant, appId, lastPeriod: periodAt(meter, Date.parse(now)), at: now } }];
    }
    case 'ChargeDuePeriods':
      return chargeDuePeriods(state, command.data);
    case 'ConfirmSuspension': {
      const { tenant, appId, suspended, now } = command.data;
      const meter = meterOf(state, appId);
      if (meter.status !== 'suspended' || meter.suspensionConfirmed) return [];
      return [{ type: AppSuspensionConfirmed.type, data: { tenant, appId, suspended, at: now } }];
    }
    default: {
      const unknownCommand: never = command;
      return unknownCommand;
    }
  }
}

/** The last period of `meter` due at `now`: 0 until period 1 starts (period 0 was prepaid by the capture). */
function lastDuePeriod(meter: Meter, now: number): number {
  const current = periodAt(meter, now);
  return meter.lastPeriod === undefined ? current : Math.min(current, meter.lastPeriod);
}

/**
 * When billing next has something to do for this account: a period falls due, an unpaid one can be
 * paid or its grace ends, or a suspension awaits the deployment service's answer. Undefined when
 * nothing will until a command changes the account. Only a hint for the metering loop: the decider
 * decides.
 */
export function nextWorkAt(state: AccountState, graceMs: number): number | undefined {
  const available = money(availableOf(state));
  let next: number | undefined;
  const consider = (at: number) => (next = next === undefined ? at : Math.min(next, at));
  for (const meter of Object.values(state.meters)) {
    if (meter.status === 'suspended' && !meter.suspensionConfirmed) consider(0);
    if (meter.lastPeriod !== undefined && meter.nextPeriod > meter.lastPeriod) continue;
    if (!meter.unpaidSince) {
      consider(periodStart(meter, meter.nextPeriod));
      continue;
    }
    const rate = rateFor(meter, meter.nextPeriod);
    if (!available.lessThan(money(rate.cost).plus(rate.commission))) consider(0);
    else if (meter.status === 'running') consider(Date.parse(meter.unpaidSince) + graceMs);
  }
  return next;
}

/** What periods `from`..`to` of a meter cost in all, commission included. */
function owedFor(meter: Meter, from: number, to: number): Money {
  let owed = ZERO;
  meter.rates.forEach((rate, index) => {
    const first = Math.max(from, rate.fromPeriod);
    const last = Math.min(to, (meter.rates[index + 1]?.fromPeriod ?? Number.POSITIVE_INFINITY) - 1);
    if (last >= first) owed = owed.plus(money(rate.cost).plus(rate.commission).times(last - first + 1));
  });
  return owed;
}

/** What a period of the tenant's running meters costs, commission included. */
function meteredCostPerPeriod(state: AccountState, now: number): Money {
  return sum(
    Object.values(state.meters)
      .filter((meter) => meter.status === 'running')
      .map((meter) => {
        const rate = rateFor(meter, periodAt(meter, now) + 1);
        return money(rate.cost).plus(rate.commission);
      }),
  );
}

/**
 * Charges every period that has fallen due, oldest first across the tenant's apps, each at its
 * start's rate. A period the balance cannot pay stops that app's charges (balance-exhausted, once
 * per crossing); still unpaid after the grace, the app is suspended. After charges, a balance below
 * a few periods of metered cost is reported (balance-low, once per crossing).
 */
function chargeDuePeriods(state: AccountState, rules: Extract<AccountCommand, { type: 'ChargeDuePeriods' }>['data']): AccountEvent[] {
  const { tenant, graceMs, lowBalancePeriods, maxCharges } = rules;
  const now = Date.parse(rules.now);
  const due: { meter: Meter; period: number; at: number }[] = [];
  for (const meter of Object.values(state.meters)) {
    const last = lastDuePeriod(meter, now);
    for (let period = meter.nextPeriod; period <= last && period < meter.nextPeriod + maxCharges; period += 1) {
      due.push({ meter, period, at: periodStart(meter, period) });
    }
  }
  due.sort((a, b) => a.at - b.at || a.meter.appId.localeCompare(b.meter.appId));

  const events: AccountEvent[] = [];
  let available = money(availableOf(state));
  let charged = 0;
  /** Apps whose period could not be paid: since when, and from which period. */
  const blocked = new Map<string, { since: string; from: number }>();
  for (const { meter, period, at } of due.slice(0, maxCharges)) {
    const rate = rateFor(meter, period);
    const total = money(rate.cost).plus(rate.commission);
    if (blocked.has(meter.appId)) continue;
    if (available.lessThan(total)) {
      blocked.set(meter.appId, { since: meter.unpaidSince ?? rules.now, from: period });
      if (!meter.unpaidSince) {
        events.push({ type: BalanceExhausted.type, data: { tenant, appId: meter.appId, period, required: amountText(total), available: amountText(available), at: rules.now } });
      }
      continue;
    }
    available = available.minus(total);
    charged += 1;
    events.push({
      type: UsageCharged.type,
      data: {
        tenant,
        appId: meter.appId,
        period,
        periodStart: new Date(at).toISOString(),
        cost: rate.cost,
        commission: rate.commission,
        total: amountText(total),
        arrears: lastDuePeriod(meter, now) - period,
        entries: payment(LedgerAccounts.available(tenant), rate.nodes, rate.cost, rate.commission),
        at: rules.now,
      },
    });
  }

  const suspended = new Set<string>();
  for (const [appId, unpaid] of blocked) {
    const meter = state.meters[appId]!;
    if (meter.status !== 'running' || now - Date.parse(unpaid.since) < graceMs) continue;
    suspended.add(appId);
    events.push({
      type: AppSuspensionRequested.type,
      data: {
        tenant,
        appId,
        reason: `the balance of ${tenant} could not pay this app’s periods since ${unpaid.since}, past the grace period: top up to pay what is owed`,
        owed: amountText(owedFor(meter, unpaid.from, lastDuePeriod(meter, now))),
        lastPeriod: periodAt(meter, now),
        at: rules.now,
      },
    });
  }

  if (charged > 0 && !state.lowBalance) {
    const running = { ...state, meters: Object.fromEntries(Object.entries(state.meters).filter(([appId]) => !suspended.has(appId))) };
    const threshold = meteredCostPerPeriod(running, now).times(lowBalancePeriods);
    if (available.lessThan(threshold)) {
      events.push({ type: BalanceLow.type, data: { tenant, available: amountText(available), threshold: amountText(threshold), periods: lowBalancePeriods, at: rules.now } });
    }
  }
  return events;
}

export const accountDecider: Decider<AccountCommand, AccountEvent, AccountState> = {
  decide: decideAccount,
  evolve: evolveAccount,
  initialState: initialAccountState,
};

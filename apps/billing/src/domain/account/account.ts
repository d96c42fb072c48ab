import {
  AppSuspensionConfirmed,
  type AppSuspensionConfirmedV1,
  AppSuspensionRequested,
  type AppSuspensionRequestedV1,
  BalanceExhausted,
  type BalanceExhaustedV1,
  BalanceLow,
  type BalanceLowV1,
  type BilledResourcesV1,
  type Conversion,
  CreditsConverted,
  type CreditsConvertedV1,
  CreditsReserved,
  type CreditsReservedV1,
  CreditsToppedUp,
  type CreditsToppedUpV1,
  type LedgerEntryV1,
  LedgerAccounts,
  type LedgerLine,
  MeterStarted,
  type MeterStartedV1,
  MeterStopped,
  type MeterStoppedV1,
  MeterUpdated,
  type MeterUpdatedV1,
  ReservationCaptured,
  type ReservationCapturedV1,
  type ReservationPurpose,
  ReservationReleased,
  type ReservationReleasedV1,
  UsageCharged,
  type UsageChargedV1,
} from '@mycelium/contracts';
import { amountText, money, ZERO } from '../money.js';

/** The account aggregate's events, as contract type and payload. */
export type AccountEvent =
  | { type: typeof CreditsToppedUp.type; data: CreditsToppedUpV1 }
  | { type: typeof CreditsReserved.type; data: CreditsReservedV1 }
  | { type: typeof CreditsConverted.type; data: CreditsConvertedV1 }
  | { type: typeof ReservationCaptured.type; data: ReservationCapturedV1 }
  | { type: typeof ReservationReleased.type; data: ReservationReleasedV1 }
  | { type: typeof UsageCharged.type; data: UsageChargedV1 }
  | { type: typeof BalanceLow.type; data: BalanceLowV1 }
  | { type: typeof BalanceExhausted.type; data: BalanceExhaustedV1 }
  | { type: typeof AppSuspensionRequested.type; data: AppSuspensionRequestedV1 }
  | { type: typeof AppSuspensionConfirmed.type; data: AppSuspensionConfirmedV1 }
  | { type: typeof MeterStarted.type; data: MeterStartedV1 }
  | { type: typeof MeterUpdated.type; data: MeterUpdatedV1 }
  | { type: typeof MeterStopped.type; data: MeterStoppedV1 };

export interface Reservation {
  reservationId: string;
  appId: string;
  replicas: number;
  resources: BilledResourcesV1;
  purpose: ReservationPurpose;
  cost: string;
  commission: string;
  total: string;
  currency: string;
  periodSeconds: number;
  /** `captured` also for an update whose capture returned its guarantee. */
  status: 'reserved' | 'captured' | 'released';
  captured?: string;
  released?: string;
  conversion?: Conversion;
}

/** What a meter charges from period `fromPeriod` on. */
export interface MeterRate {
  fromPeriod: number;
  replicas: number;
  resources: BilledResourcesV1;
  nodes: string[];
  cost: string;
  commission: string;
}

export interface Meter {
  appId: string;
  /** Period n starts at startedAt + n × periodMs; period 0 was paid by the captured reservation. */
  startedAt: string;
  periodMs: number;
  /** The first period not yet paid. */
  nextPeriod: number;
  /** Oldest first; the one for period n is the last with fromPeriod ≤ n. */
  rates: MeterRate[];
  /** `stopped` and `suspended` meters charge no period after `lastPeriod` (owed ones before it still are). */
  status: 'running' | 'stopped' | 'suspended';
  lastPeriod?: number;
  /** When a period of this meter could first not be paid; cleared once it is paid up. */
  unpaidSince?: string;
  /** The deployment service answered the suspension request. */
  suspensionConfirmed?: boolean;
}

export interface AccountState {
  tenant?: string;
  /** Ledger account → credits minus debits of the entries in this stream. */
  balances: Readonly<Record<string, string>>;
  /** Top-up reference → the amount it credited. */
  references: Readonly<Record<string, string>>;
  reservations: Readonly<Record<string, Reservation>>;
  meters: Readonly<Record<string, Meter>>;
  /** Set by balance-low until the spendable balance is back above its threshold. */
  lowBalance?: { threshold: string };
  /** How many ledger entries the stream holds. */
  entryCount: number;
}

export const initialAccountState = (): AccountState => ({ balances: {}, references: {}, reservations: {}, meters: {}, entryCount: 0 });

export const balanceOf = (state: AccountState, account: string): string => state.balances[account] ?? '0';
export const availableOf = (state: AccountState): string => (state.tenant ? balanceOf(state, LedgerAccounts.available(state.tenant)) : '0');
export const reservedOf = (state: AccountState): string => (state.tenant ? balanceOf(state, LedgerAccounts.reserved(state.tenant)) : '0');

/** The rate a meter charges period `period` at. */
export function rateFor(meter: Meter, period: number): MeterRate {
  let found = meter.rates[0]!;
  for (const rate of meter.rates) if (rate.fromPeriod <= period) found = rate;
  return found;
}

/** The period `now` falls in (0 before the meter's start). */
export function periodAt(meter: Meter, now: number): number {
  return Math.max(0, Math.floor((now - Date.parse(meter.startedAt)) / meter.periodMs));
}

export const periodStart = (meter: Meter, period: number): number => Date.parse(meter.startedAt) + period * meter.periodMs;

function applyEntries(balances: Readonly<Record<string, string>>, entries: LedgerEntryV1[]): Record<string, string> {
  const next = { ...balances };
  for (const { debit, credit, amount } of entries) {
    next[debit] = amountText(money(next[debit] ?? ZERO).minus(amount));
    next[credit] = amountText(money(next[credit] ?? ZERO).plus(amount));
  }
  return next;
}

/** The low-balance alert is armed again once the spendable balance is back at its threshold. */
function rearmLowBalance(state: AccountState): AccountState {
  if (!state.lowBalance || money(availableOf(state)).lessThan(state.lowBalance.threshold)) return state;
  return { ...state, lowBalance: undefined };
}

const withMeter = (state: AccountState, meter: Meter): AccountState => ({ ...state, meters: { ...state.meters, [meter.appId]: meter } });

const withReservation = (state: AccountState, id: string, change: Partial<Reservation>): AccountState => {
  const reservation = state.reservations[id];
  return reservation ? { ...state, reservations: { ...state.reservations, [id]: { ...reservation, ...change } } } : state;
};

export function evolveAccount(current: AccountState, event: AccountEvent): AccountState {
  let state: AccountState = current.tenant ? current : { ...current, tenant: event.data.tenant };
  if ('entries' in event.data && event.data.entries.length > 0) {
    state = { ...state, balances: applyEntries(state.balances, event.data.entries), entryCount: state.entryCount + event.data.entries.length };
  }
  switch (event.type) {
    case CreditsToppedUp.type:
      return rearmLowBalance({ ...state, references: { ...state.references, [event.data.reference]: event.data.amount } });
    case CreditsReserved.type: {
      const { data } = event;
      const reservation: Reservation = {
        reservationId: data.reservationId,
        appId: data.appId,
        replicas: data.replicas,
        resources: data.resources,
        purpose: data.purpose,
        cost: data.cost,
        commission: data.commission,
        total: data.total,
        currency: data.currency,
        periodSeconds: data.periodSeconds,
        status: 'reserved',
      };
      return { ...state, reservations: { ...state.reservations, [data.reservationId]: reservation } };
    }
    case CreditsConverted.type: {
      const { tenant: _tenant, at: _at, ...conversion } = event.data;
      return withReservation(state, event.data.reservationId, { conversion });
    }
    case ReservationCaptured.type:
      return withReservation(state, event.data.reservationId, { status: 'captured', captured: event.data.captured });
    case ReservationReleased.type:
      return rearmLowBalance(
        withReservation(state, event.data.reservationId, event.data.byCapture ? { status: 'captured', captured: '0', released: event.data.amount } : { status: 'released', released: event.data.amount }),
      );
    case UsageCharged.type: {
      const meter = state.meters[event.data.appId];
      if (!meter) return state;
      const nextPeriod = event.data.period + 1;
      // Rates wholly in the past are no longer needed.
      const rates = meter.rates.filter((rate, index) => index === meter.rates.length - 1 || meter.rates[index + 1]!.fromPeriod > nextPeriod);
      return withMeter(state, { ...meter, nextPeriod, rates, unpaidSince: event.data.arrears === 0 ? undefined : meter.unpaidSince });
    }
    case BalanceLow.type:
      return { ...state, lowBalance: { threshold: event.data.threshold } };
    case BalanceExhausted.type: {
      const meter = state.meters[event.data.appId];
      return meter ? withMeter(state, { ...meter, unpaidSince: event.data.at }) : state;
    }
    case AppSuspensionRequested.type: {
      const meter = state.meters[event.data.appId];
      return meter ? withMeter(state, { ...meter, status: 'suspended', lastPeriod: event.data.lastPeriod, suspensionConfirmed: false }) : state;
    }
    case AppSuspensionConfirmed.type: {
      const meter = state.meters[event.data.appId];
      return meter ? withMeter(state, { ...meter, suspensionConfirmed: true }) : state;
    }
    case MeterStarted.type: {
      const { data } = event;
      return withMeter(state, {
        appId: data.appId,
        startedAt: data.at,
        periodMs: data.periodMs,
        nextPeriod: 1,
        rates: [{ fromPeriod: 0, replicas: data.replicas, resources: data.resources, nodes: data.nodes, cost: data.cost, commission: data.commission }],
        status: 'running',
      });
    }
    case MeterUpdated.type: {
      const meter = state.meters[event.data.appId];
      if (!meter) return state;
      const { data } = event;
      const rate: MeterRate = { fromPeriod: data.fromPeriod, replicas: data.replicas, resources: data.resources, nodes: data.nodes, cost: data.cost, commission: data.commission };
      // A second change before the first took effect replaces it.
      return withMeter(state, { ...meter, rates: [...meter.rates.filter((existing) => existing.fromPeriod < data.fromPeriod), rate] });
    }
    case MeterStopped.type: {
      const meter = state.meters[event.data.appId];
      return meter ? withMeter(state, { ...meter, status: 'stopped', lastPeriod: event.data.lastPeriod }) : state;
    }
    default: {
      const unhandled: never = event;
      return unhandled;
    }
  }
}

/** The short name of an account event's type: `mycelium.billing.usage-charged.v1` → `usage-charged`. */
export const eventName = (type: string): string => type.replace(/^mycelium\.billing\./, '').replace(/\.v\d+$/, '');

/** The ledger lines an event adds, with what they refer to. */
export function ledgerLines(event: AccountEvent): LedgerLine[] {
  if (!('entries' in event.data)) return [];
  const reference =
    event.type === CreditsToppedUp.type
      ? event.data.reference
      : event.type === UsageCharged.type
        ? `${event.data.appId}/period/${event.data.period}`
        : 'reservationId' in event.data
          ? event.data.reservationId
          : undefined;
  const type = eventName(event.type);
  return event.data.entries.map((entry) => ({ at: event.data.at, type, debit: entry.debit, credit: entry.credit, amount: entry.amount, ...(reference ? { reference } : {}) }));
}

/** The sum of every balance in the stream: zero, always, for a double-entry ledger. */
export function ledgerSum(state: AccountState): string {
  return amountText(Object.values(state.balances).reduce((total, balance) => total.plus(balance), ZERO));
}

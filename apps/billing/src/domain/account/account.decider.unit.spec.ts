import {
  AppSuspensionConfirmed,
  AppSuspensionRequested,
  BalanceExhausted,
  BalanceLow,
  CreditsConverted,
  CreditsReserved,
  CreditsToppedUp,
  MeterStarted,
  MeterStopped,
  MeterUpdated,
  ReservationCaptured,
  ReservationReleased,
  UsageCharged,
} from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import type { RateCard } from '../pricing.js';
import { type AccountEvent, type AccountState, availableOf, balanceOf, evolveAccount, initialAccountState, ledgerLines, ledgerSum, reservedOf } from './account.js';
import { type AccountCommand, decideAccount, nextWorkAt } from './account.decider.js';

const tenant = 'acme';
const appId = 'app_0123456789ab';
const otherApp = 'app_ba9876543210';
const N1 = 'aaaaaaaaaaaaaaaaaaaa';
const N2 = 'bbbbbbbbbbbbbbbbbbbb';
const R1 = '018f0000-0000-7000-8000-000000000001';
const R2 = '018f0000-0000-7000-8000-000000000002';
const R3 = '018f0000-0000-7000-8000-000000000003';
const PERIOD_MS = 60_000;
const GRACE_MS = 300_000;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');
/** The time `ms` after the start of every scenario. */
const t = (ms: number) => new Date(T0 + ms).toISOString();

/** One core-hour costs 1 credit: a replica's 60 s period costs 1/60 = 0.01666667 (rounded). */
const rates: RateCard = { cpuHour: '1', memoryGiBHour: '0', storageGiBHour: '0', commissionPercent: '10' };
/** Two one-core replicas for a period: cost 0.03333333, commission 0.00333333. */
const PERIOD_TOTAL = '0.03666666';
const accounts = {
  available: `tenant:${tenant}:available`,
  reserved: `tenant:${tenant}:reserved`,
  payments: 'external:payments',
  commission: 'platform:commission',
  n1: `node:${N1}:earnings`,
  n2: `node:${N2}:earnings`,
};

const topUp = (amount: string, reference = 'pay-1', now = t(0)): AccountCommand => ({ type: 'TopUpCredits', data: { tenant, amount, reference, now } });
const reserve = (reservationId = R1, options: { app?: string; replicas?: number; purpose?: 'deploy' | 'update'; now?: string } = {}): AccountCommand => ({
  type: 'ReserveCredits',
  data: {
    tenant,
    reservationId,
    appId: options.app ?? appId,
    replicas: options.replicas ?? 2,
    resources: { cpu: 1, memoryMiB: 0, storageGiB: 0 },
    purpose: options.purpose ?? 'deploy',
    rates,
    periodSeconds: PERIOD_MS / 1000,
    currency: 'TFC',
    now: options.now ?? t(0),
  },
});
const capture = (reservationId = R1, nodes = [N1, N2], now = t(0)): AccountCommand => ({ type: 'CaptureReservation', data: { tenant, reservationId, nodes, now } });
const release = (reservationId = R1, now = t(0)): AccountCommand => ({ type: 'ReleaseReservation', data: { tenant, reservationId, reason: 'no node could take it', now } });
const charge = (now: string): AccountCommand => ({ type: 'ChargeDuePeriods', data: { tenant, now, graceMs: GRACE_MS, lowBalancePeriods: 3, maxCharges: 1000 } });
const update = (now: string, replicas = 3, nodes = [N1, N2, N1], app = appId): AccountCommand => ({
  type: 'UpdateMeter',
  data: { tenant, appId: app, replicas, resources: { cpu: 1, memoryMiB: 0, storageGiB: 0 }, nodes, rates, now },
});
const stop = (now: string, app = appId): AccountCommand => ({ type: 'StopMeter', data: { tenant, appId: app, now } });
const conversion = { reservationId: R1, usd: '0.03333333', tftUsdRate: '0.01', tft: '3.39999966', bufferPercent: '2', sources: [{ source: 'fixed:0.01', price: '0.01' }] };

/**
 * The account after `history` (commands, each decided on the state before it), with `when` to ask
 * what the next command decides. Every state on the way is checked to be a balanced ledger.
 */
function given(...history: AccountCommand[]) {
  let state = initialAccountState();
  const log: AccountEvent[] = [];
  for (const command of history) {
    const events = decideAccount(command, state);
    log.push(...events);
    state = events.reduce(evolveAccount, state);
    expect(ledgerSum(state), `ledger after ${command.type}`).toBe('0');
  }
  return {
    state,
    log,
    when: (command: AccountCommand) => decideAccount(command, state),
    /** The state after `command` too. */
    after: (command: AccountCommand): AccountState => decideAccount(command, state).reduce(evolveAccount, state),
  };
}

function refusal(run: () => unknown): { code: string; message: string; field?: string; details?: Record<string, unknown> } {
  try {
    run();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected the command to be refused');
}

describe('the account decider', () => {
  describe('topping up', () => {
    it('moves the amount from external payments to the tenant’s spendable balance', () => {
      expect(given().when(topUp('25.50'))).toEqual([
        {
          type: CreditsToppedUp.type,
          data: { tenant, amount: '25.5', reference: 'pay-1', entries: [{ debit: accounts.payments, credit: accounts.available, amount: '25.5' }], at: t(0) },
        },
      ]);
      const { state } = given(topUp('25.50'));
      expect(availableOf(state)).toBe('25.5');
      expect(balanceOf(state, accounts.payments)).toBe('-25.5');
    });

    it('credits a reference once, however often it is sent', () => {
      expect(given(topUp('10', 'pay-1')).when(topUp('10', 'pay-1'))).toEqual([]);
      expect(availableOf(given(topUp('10', 'pay-1'), topUp('10.00', 'pay-1'), topUp('5', 'pay-2')).state)).toBe('15');
    });

    it('refuses a reference already credited with another amount, naming the field', () => {
      expect(refusal(() => given(topUp('10', 'pay-1')).when(topUp('12', 'pay-1')))).toMatchObject({ code: 'ILLEGAL_STATE', field: 'reference', message: expect.stringMatching(/already credited 10, not 12/) });
    });
  });

  describe('reserving', () => {
    it('holds the first period’s cost and commission when the balance covers it', () => {
      expect(given(topUp('1')).when(reserve())).toEqual([
        {
          type: CreditsReserved.type,
          data: {
            tenant,
            reservationId: R1,
            appId,
            replicas: 2,
            resources: { cpu: 1, memoryMiB: 0, storageGiB: 0 },
            purpose: 'deploy',
            cost: '0.03333333',
            commission: '0.00333333',
            total: PERIOD_TOTAL,
            currency: 'TFC',
            periodSeconds: 60,
            entries: [{ debit: accounts.available, credit: accounts.reserved, amount: PERIOD_TOTAL }],
            at: t(0),
          },
        },
      ]);
      const { state } = given(topUp('1'), reserve());
      expect([availableOf(state), reservedOf(state)]).toEqual(['0.96333334', PERIOD_TOTAL]);
    });

    it('refuses with INSUFFICIENT_CREDITS, saying how to top up, when the spendable balance is short', () => {
      const error = refusal(() => given(topUp('0.03')).when(reserve()));
      expect(error).toMatchObject({ code: 'INSUFFICIENT_CREDITS', details: { required: PERIOD_TOTAL, available: '0.03', currency: 'TFC' } });
      expect(error.message).toMatch(/myc credits add/);
      expect(error.message).toMatch(/POST \/v1\/account\/credits/);
      expect(refusal(() => given().when(reserve())).details).toEqual({ required: PERIOD_TOTAL, available: '0', currency: 'TFC' });
    });

    it('reserves an exact balance to the last decimal', () => {
      expect(availableOf(given(topUp(PERIOD_TOTAL), reserve()).state)).toBe('0');
    });

    it('answers a resent reservation id with nothing new', () => {
      expect(given(topUp('1'), reserve()).when(reserve(R1, { replicas: 5 }))).toEqual([]);
    });
  });

  describe('converting', () => {
    const record: AccountCommand = { type: 'RecordConversion', data: { tenant, conversion, now: t(1) } };

    it('records a reservation’s conversion once', () => {
      expect(given(topUp('1'), reserve()).when(record)).toEqual([{ type: CreditsConverted.type, data: { tenant, ...conversion, at: t(1) } }]);
      const { state } = given(topUp('1'), reserve(), record);
      expect(state.reservations[R1]!.conversion).toEqual(conversion);
      expect(given(topUp('1'), reserve(), record).when({ type: 'RecordConversion', data: { tenant, conversion: { ...conversion, tft: '9' }, now: t(2) } })).toEqual([]);
    });

    it('refuses to convert a released or unknown reservation', () => {
      expect(refusal(() => given(topUp('1'), reserve(), release()).when(record)).code).toBe('ILLEGAL_STATE');
      expect(refusal(() => given().when(record))).toMatchObject({ code: 'NOT_FOUND', field: 'reservationId' });
    });
  });

  describe('capturing a deploy', () => {
    it('pays the commission to the platform and the cost to the nodes, the split’s remainder to the first, and starts the meter', () => {
      expect(given(topUp('1'), reserve()).when(capture(R1, [N1, N2], t(5)))).toEqual([
        {
          type: ReservationCaptured.type,
          data: {
            tenant,
            reservationId: R1,
            appId,
            nodes: [N1, N2],
            captured: PERIOD_TOTAL,
            entries: [
              { debit: accounts.reserved, credit: accounts.commission, amount: '0.00333333' },
              { debit: accounts.reserved, credit: accounts.n1, amount: '0.01666667' },
              { debit: accounts.reserved, credit: accounts.n2, amount: '0.01666666' },
            ],
            at: t(5),
          },
        },
        {
          type: MeterStarted.type,
          data: {
            tenant,
            appId,
            reservationId: R1,
            replicas: 2,
            resources: { cpu: 1, memoryMiB: 0, storageGiB: 0 },
            nodes: [N1, N2],
            periodMs: PERIOD_MS,
            cost: '0.03333333',
            commission: '0.00333333',
            at: t(5),
          },
        },
      ]);
      const { state } = given(topUp('1'), reserve(), capture());
      expect(reservedOf(state)).toBe('0');
      expect(state.meters[appId]).toMatchObject({ status: 'running', nextPeriod: 1, startedAt: t(0) });
    });

    it('captures once, and refuses to release what it captured', () => {
      const captured = given(topUp('1'), reserve(), capture());
      expect(captured.when(capture(R1, [N2]))).toEqual([]);
      expect(refusal(() => captured.when(release())).code).toBe('ILLEGAL_STATE');
    });

    it('refuses to capture a released or unknown reservation', () => {
      expect(refusal(() => given(topUp('1'), reserve(), release()).when(capture())).code).toBe('ILLEGAL_STATE');
      expect(refusal(() => given(topUp('1')).when(capture()))).toMatchObject({ code: 'NOT_FOUND', field: 'reservationId' });
    });
  });

  describe('releasing', () => {
    it('returns a failed deploy’s reservation to the spendable balance, once', () => {
      const { state, log } = given(topUp('1'), reserve(), release(), release());
      expect([availableOf(state), reservedOf(state)]).toEqual(['1', '0']);
      expect(log.filter((event) => event.type === ReservationReleased.type)).toEqual([
        {
          type: ReservationReleased.type,
          data: { tenant, reservationId: R1, amount: PERIOD_TOTAL, reason: 'no node could take it', entries: [{ debit: accounts.reserved, credit: accounts.available, amount: PERIOD_TOTAL }], at: t(0) },
        },
      ]);
    });
  });

  describe('capturing an update', () => {
    it('returns the guarantee to the tenant and meters the new shape from the next period', () => {
      const running = given(topUp('1'), reserve(), capture(), reserve(R2, { replicas: 3, purpose: 'update', now: t(90_000) }));
      expect(running.when(capture(R2, [N1, N2, N1], t(90_000)))).toEqual([
        {
          type: ReservationReleased.type,
          data: expect.objectContaining({ reservationId: R2, amount: '0.055', byCapture: true, entries: [{ debit: accounts.reserved, credit: accounts.available, amount: '0.055' }] }),
        },
        {
          type: MeterUpdated.type,
          data: { tenant, appId, reservationId: R2, replicas: 3, resources: { cpu: 1, memoryMiB: 0, storageGiB: 0 }, nodes: [N1, N2, N1], cost: '0.05', commission: '0.005', fromPeriod: 2, at: t(90_000) },
        },
      ]);
      const after = running.after(capture(R2, [N1, N2, N1], t(90_000)));
      expect(after.reservations[R2]).toMatchObject({ status: 'captured', captured: '0' });
      expect(availableOf(after)).toBe(availableOf(given(topUp('1'), reserve(), capture()).state));
    });

    it('refuses an update of an app it does not meter, and is idempotent once captured', () => {
      expect(refusal(() => given(topUp('1'), reserve(R2, { purpose: 'update' })).when(capture(R2)))).toMatchObject({ code: 'NOT_FOUND', field: 'appId' });
      const done = given(topUp('1'), reserve(), capture(), reserve(R2, { purpose: 'update' }), capture(R2));
      expect(done.when(capture(R2))).toEqual([]);
      expect(refusal(() => done.when(release(R2))).code).toBe('ILLEGAL_STATE');
    });
  });

  describe('metering', () => {
    const deployed = [topUp('1'), reserve(), capture()];

    it('charges nothing before the next period starts', () => {
      expect(given(...deployed).when(charge(t(PERIOD_MS - 1)))).toEqual([]);
    });

    it('charges a period at its start, once', () => {
      expect(given(...deployed).when(charge(t(PERIOD_MS)))).toEqual([
        {
          type: UsageCharged.type,
          data: {
            tenant,
            appId,
            period: 1,
            periodStart: t(PERIOD_MS),
            cost: '0.03333333',
            commission: '0.00333333',
            total: PERIOD_TOTAL,
            arrears: 0,
            entries: [
              { debit: accounts.available, credit: accounts.commission, amount: '0.00333333' },
              { debit: accounts.available, credit: accounts.n1, amount: '0.01666667' },
              { debit: accounts.available, credit: accounts.n2, amount: '0.01666666' },
            ],
            at: t(PERIOD_MS),
          },
        },
      ]);
      expect(given(...deployed, charge(t(PERIOD_MS))).when(charge(t(PERIOD_MS + 1)))).toEqual([]);
    });

    it('catches up every period missed while it was down, oldest first, each once', () => {
      const charged = given(...deployed).when(charge(t(3 * PERIOD_MS + 5)));
      expect(charged.map((event) => [event.type, (event.data as { period: number; arrears: number }).period, (event.data as { arrears: number }).arrears])).toEqual([
        [UsageCharged.type, 1, 2],
        [UsageCharged.type, 2, 1],
        [UsageCharged.type, 3, 0],
      ]);
      expect(given(...deployed, charge(t(3 * PERIOD_MS + 5))).when(charge(t(4 * PERIOD_MS - 1)))).toEqual([]);
    });

    it('charges the apps of a tenant in the order their periods fell due', () => {
      const two = given(topUp('1'), reserve(), capture(R1, [N1, N2], t(0)), reserve(R2, { app: otherApp, now: t(30_000) }), capture(R2, [N2, N1], t(30_000)));
      expect(two.when(charge(t(130_000))).map((event) => [(event.data as { appId: string }).appId, (event.data as { period: number }).period])).toEqual([
        [appId, 1],
        [otherApp, 1],
        [appId, 2],
      ]);
    });

    it('charges the periods before a change at the old rate and those after it at the new, splitting over repeated nodes', () => {
      // billing missed period 1; the app was scaled to three replicas in it.
      const scaled = given(...deployed, update(t(90_000)));
      expect(scaled.state.meters[appId]!.rates.map((rate) => rate.fromPeriod)).toEqual([0, 2]);
      const charged = scaled.when(charge(t(120_000)));
      expect(charged.map((event) => (event.data as { total: string }).total)).toEqual([PERIOD_TOTAL, '0.055']);
      expect((charged[1]!.data as { entries: unknown[] }).entries).toEqual([
        { debit: accounts.available, credit: accounts.commission, amount: '0.005' },
        { debit: accounts.available, credit: accounts.n1, amount: '0.03333334' },
        { debit: accounts.available, credit: accounts.n2, amount: '0.01666666' },
      ]);
      expect(given(...deployed, update(t(90_000)), charge(t(120_000))).state.meters[appId]!.rates.map((rate) => rate.fromPeriod)).toEqual([2]);
    });

    it('changes a meter once for the same shape, and refuses an unknown app', () => {
      expect(given(...deployed, update(t(10))).when(update(t(20)))).toEqual([]);
      expect(given(...deployed).when(update(t(10), 2, [N1, N2]))).toEqual([]);
      expect(refusal(() => given(...deployed).when(update(t(10), 2, [N1, N2], otherApp)))).toMatchObject({ code: 'NOT_FOUND', field: 'appId' });
    });

    it('stops charging after the period the stop fell in, but still charges the periods owed before it', () => {
      const stopped = given(...deployed, stop(t(90_000)));
      expect(stopped.log.at(-1)).toEqual({ type: MeterStopped.type, data: { tenant, appId, lastPeriod: 1, at: t(90_000) } });
      expect(stopped.when(charge(t(600_000))).map((event) => (event.data as { period: number }).period)).toEqual([1]);
      expect(given(...deployed, stop(t(90_000)), charge(t(600_000))).when(charge(t(900_000)))).toEqual([]);
    });

    it('stops once, refuses an unknown app, and refuses to change a stopped meter', () => {
      expect(given(...deployed, stop(t(10))).when(stop(t(20)))).toEqual([]);
      expect(refusal(() => given(...deployed).when(stop(t(10), otherApp))).code).toBe('NOT_FOUND');
      expect(refusal(() => given(...deployed, stop(t(10))).when(update(t(20)))).code).toBe('ILLEGAL_STATE');
    });
  });

  describe('when the balance runs low and out', () => {
    /** After period 1, 0.00666668 is left: period 2 cannot be paid. */
    const short = [topUp('0.08'), reserve(), capture()];

    it('reports a low balance once per crossing, armed again by a top-up above the threshold', () => {
      const low = given(topUp('0.2'), reserve(), capture(), charge(t(60_000)));
      expect(low.log.some((event) => event.type === BalanceLow.type)).toBe(false);
      expect(low.when(charge(t(120_000)))).toEqual([
        { type: UsageCharged.type, data: expect.objectContaining({ period: 2 }) },
        { type: BalanceLow.type, data: { tenant, available: '0.09000002', threshold: '0.10999998', periods: 3, at: t(120_000) } },
      ]);
      const alerted = given(topUp('0.2'), reserve(), capture(), charge(t(60_000)), charge(t(120_000)));
      expect(alerted.when(charge(t(180_000))).map((event) => event.type)).toEqual([UsageCharged.type]);
      const rearmed = given(topUp('0.2'), reserve(), capture(), charge(t(60_000)), charge(t(120_000)), charge(t(180_000)), topUp('0.06', 'pay-2'));
      expect(rearmed.state.lowBalance).toBeUndefined();
      expect(rearmed.when(charge(t(240_000))).map((event) => event.type)).toEqual([UsageCharged.type, BalanceLow.type]);
    });

    it('reports a period it cannot pay once, and changes nothing else', () => {
      expect(given(...short, charge(t(60_000))).when(charge(t(120_000)))).toEqual([
        { type: BalanceExhausted.type, data: { tenant, appId, period: 2, required: PERIOD_TOTAL, available: '0.00666668', at: t(120_000) } },
      ]);
      const exhausted = given(...short, charge(t(60_000)), charge(t(120_000)));
      expect(exhausted.state.meters[appId]).toMatchObject({ nextPeriod: 2, unpaidSince: t(120_000) });
      expect(exhausted.when(charge(t(180_000)))).toEqual([]);
      expect(exhausted.when(charge(t(120_000 + GRACE_MS - 1)))).toEqual([]);
    });

    it('requests the app’s suspension once the grace is over, with what it owes, and charges no later period', () => {
      const exhausted = given(...short, charge(t(60_000)), charge(t(120_000)));
      // at 420 s the app is in period 7: periods 2 … 7 are owed.
      expect(exhausted.when(charge(t(120_000 + GRACE_MS)))).toEqual([
        {
          type: AppSuspensionRequested.type,
          data: { tenant, appId, reason: expect.stringMatching(/past the grace period: top up/), owed: '0.21999996', lastPeriod: 7, at: t(420_000) },
        },
      ]);
      const suspended = given(...short, charge(t(60_000)), charge(t(120_000)), charge(t(420_000)));
      expect(suspended.when(charge(t(900_000)))).toEqual([]);
      // a top-up pays the periods owed up to the suspension, and no more.
      const paid = given(...short, charge(t(60_000)), charge(t(120_000)), charge(t(420_000)), topUp('1', 'pay-2'));
      expect(paid.when(charge(t(900_000))).map((event) => (event.data as { period: number }).period)).toEqual([2, 3, 4, 5, 6, 7]);
    });

    it('records the deployment service’s answer to the suspension once', () => {
      const suspended = given(...short, charge(t(60_000)), charge(t(120_000)), charge(t(420_000)));
      const confirm: AccountCommand = { type: 'ConfirmSuspension', data: { tenant, appId, suspended: true, now: t(421_000) } };
      expect(suspended.when(confirm)).toEqual([{ type: AppSuspensionConfirmed.type, data: { tenant, appId, suspended: true, at: t(421_000) } }]);
      expect(given(...short, charge(t(60_000)), charge(t(120_000)), charge(t(420_000)), confirm).when(confirm)).toEqual([]);
    });

    it('pays what is owed after a top-up within the grace, and meters on', () => {
      const toppedUp = given(...short, charge(t(60_000)), charge(t(120_000)), topUp('1', 'pay-2', t(200_000)));
      const paid = toppedUp.when(charge(t(200_000)));
      expect(paid.map((event) => [event.type, (event.data as { period: number }).period, (event.data as { arrears: number }).arrears])).toEqual([
        [UsageCharged.type, 2, 1],
        [UsageCharged.type, 3, 0],
      ]);
      const current = given(...short, charge(t(60_000)), charge(t(120_000)), topUp('1', 'pay-2', t(200_000)), charge(t(200_000)));
      expect(current.state.meters[appId]!.unpaidSince).toBeUndefined();
      expect(current.when(charge(t(420_000))).map((event) => (event.data as { period: number }).period)).toEqual([4, 5, 6, 7]);
    });
  });

  describe('the next work for the metering loop', () => {
    it('is the next period’s start, now for a payable or unconfirmed debt, the grace’s end for an unpayable one, never when nothing is owed', () => {
      expect(nextWorkAt(given(topUp('1')).state, GRACE_MS)).toBeUndefined();
      expect(nextWorkAt(given(topUp('0.08'), reserve(), capture()).state, GRACE_MS)).toBe(T0 + PERIOD_MS);
      const exhausted = given(topUp('0.08'), reserve(), capture(), charge(t(60_000)), charge(t(120_000)));
      expect(nextWorkAt(exhausted.state, GRACE_MS)).toBe(T0 + 120_000 + GRACE_MS);
      expect(nextWorkAt(exhausted.after(topUp('1', 'pay-2')), GRACE_MS)).toBe(0);
      const suspended = exhausted.after(charge(t(420_000)));
      expect(nextWorkAt(suspended, GRACE_MS)).toBe(0);
      const confirmed = decideAccount({ type: 'ConfirmSuspension', data: { tenant, appId, suspended: true, now: t(421_000) } }, suspended).reduce(evolveAccount, suspended);
      expect(nextWorkAt(confirmed, GRACE_MS)).toBeUndefined();
      expect(nextWorkAt(given(topUp('1'), reserve(), capture(), stop(t(1)), charge(t(60_000))).state, GRACE_MS)).toBeUndefined();
    });
  });

  describe('the ledger', () => {
    it('balances to zero after every event of a long life, each account exact to the last decimal, and replays to the same state', () => {
      const life = given(
        topUp('1'),
        reserve(),
        capture(),
        reserve(R3, { app: otherApp }),
        release(R3),
        charge(t(180_000)),
        update(t(200_000)),
        charge(t(240_000)),
        stop(t(250_000)),
        charge(t(600_000)),
      );
      const { state, log } = life;
      expect(ledgerSum(state)).toBe('0');
      expect(state.balances).toEqual({
        [accounts.payments]: '-1',
        [accounts.available]: '0.79833336',
        [accounts.reserved]: '0',
        [accounts.commission]: '0.01833332',
        [accounts.n1]: '0.10000002',
        [accounts.n2]: '0.0833333',
      });
      expect(log.reduce(evolveAccount, initialAccountState())).toEqual(state);
      const lines = log.flatMap(ledgerLines);
      expect(state.entryCount).toBe(lines.length);
      expect(lines[0]).toEqual({ at: t(0), type: 'credits-topped-up', debit: accounts.payments, credit: accounts.available, amount: '1', reference: 'pay-1' });
      expect(lines.at(-1)).toMatchObject({ type: 'usage-charged', reference: `${appId}/period/4`, amount: '0.01666666' });
    });
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import {
  CaptureReservation,
  ConvertCredits,
  GetAccount,
  GetLedger,
  gridRegistry,
  ReleaseReservation,
  ReserveCredits,
  StopMeter,
  SuspendApp,
  type SuspendAppV1,
  TopUpCredits,
  UpdateMeter,
} from '@mycelium/contracts';
import { CommandServer } from '@mycelium/messaging';
import { createLogger } from '@mycelium/telemetry';
import { uniqueName, waitFor } from '@mycelium/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingFixture, CommandFailed, openBillingFixture, TEST_PERIOD_MS } from './billing.fixture.js';
import { type AccountEvent, availableOf, evolveAccount, initialAccountState, ledgerSum } from './domain/account/account.js';
import { amountText, money } from './domain/money.js';
import { Leadership } from './metering/leadership.js';
import { type PriceServer, startPriceServer } from './prices/price-server.fixture.js';

const N1 = 'aaaaaaaaaaaaaaaaaaaa';
const N2 = 'bbbbbbbbbbbbbbbbbbbb';
/** Two one-core replicas for a 300 ms period at 3.6 credits a core-hour: cost 0.0006, commission 0.00006. */
const DEPLOY_TOTAL = '0.00066';
const resources = { cpu: 1, memoryMiB: 256, storageGiB: 1 };

const newTenant = () => uniqueName('t');
const newApp = () => `app_${randomBytes(6).toString('hex')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function refusal(attempt: Promise<unknown>): Promise<CommandFailed> {
  try {
    await attempt;
  } catch (error) {
    if (error instanceof CommandFailed) return error;
    throw error;
  }
  throw new Error('expected the command to be refused');
}

/** Tops up `amount`, reserves two replicas for a new app and captures them on N1 and N2. */
async function deploy(grid: BillingFixture, tenant: string, amount: string): Promise<{ appId: string; reservationId: string }> {
  const appId = newApp();
  const reservationId = randomUUID();
  await grid.send(TopUpCredits, { tenant, amount, reference: `pay-${reservationId}` });
  await grid.send(ReserveCredits, { tenant, reservationId, appId, replicas: 2, resources });
  await grid.send(CaptureReservation, { tenant, reservationId, nodes: [N1, N2] });
  return { appId, reservationId };
}

/** The account as its events say, checked to be a balanced ledger. */
async function replayed(grid: BillingFixture, tenant: string) {
  const events = await grid.events(tenant);
  const state = events.reduce((current, event) => evolveAccount(current, { type: `mycelium.billing.${event.name}.v1`, data: event.data } as unknown as AccountEvent), initialAccountState());
  expect(ledgerSum(state)).toBe('0');
  return { events, state };
}

const chargedPeriods = async (grid: BillingFixture, tenant: string, appId: string) =>
  (await grid.events(tenant)).filter((event) => event.name === 'usage-charged' && event.data.appId === appId).map((event) => event.data.period as number);

describe('billing service', () => {
  let grid: BillingFixture;

  beforeAll(async () => {
    grid = await openBillingFixture();
    await grid.start();
  });
  afterAll(() => grid?.dispose());

  describe('top-ups', () => {
    it('credits a payment reference once, even when it is sent twice at once', async () => {
      const tenant = newTenant();
      const payment = { tenant, amount: '10.50', reference: 'stripe:pi_1' };
      const answers = await Promise.all([grid.send(TopUpCredits, payment), grid.send(TopUpCredits, payment)]);
      expect(answers.map((answer) => answer.credited).sort()).toEqual([false, true]);
      expect(await grid.send(TopUpCredits, payment)).toEqual({ tenant, credited: false, balance: '10.5' });
      expect(await grid.send(GetAccount, { tenant })).toEqual({
        tenant,
        balance: '10.5',
        reserved: '0',
        currency: { code: 'TFC', name: 'Mycelium Credits', symbol: 'TFC', usdRate: '1' },
      });
      expect(await grid.send(GetLedger, { tenant })).toEqual({
        entries: [{ at: expect.any(String), type: 'credits-topped-up', debit: 'external:payments', credit: `tenant:${tenant}:available`, amount: '10.5', reference: 'stripe:pi_1' }],
        total: 1,
      });
    });

    it('shows an unknown tenant a zero balance', async () => {
      expect(await grid.send(GetAccount, { tenant: newTenant() })).toMatchObject({ balance: '0', reserved: '0' });
    });

    it('refuses a bad amount or tenant, naming the field, and records nothing', async () => {
      const tenant = newTenant();
      for (const amount of ['-1', '1e3', '0', '0.123456789', 12, '']) {
        expect(await refusal(grid.send(TopUpCredits, { tenant, amount, reference: 'r' })), String(amount)).toMatchObject({ code: 'VALIDATION_FAILED', field: 'amount' });
      }
      expect(await refusal(grid.send(TopUpCredits, { tenant: 'Not_A_Tenant', amount: '1', reference: 'r' }))).toMatchObject({ field: 'tenant' });
      expect(await refusal(grid.send(TopUpCredits, { tenant, amount: '1', reference: '' }))).toMatchObject({ field: 'reference' });
      expect(await grid.events(tenant)).toEqual([]);
    });

    it('answers the newest ledger entries, oldest first, with how many there are', async () => {
      const tenant = newTenant();
      for (let n = 1; n <= 5; n += 1) await grid.send(TopUpCredits, { tenant, amount: String(n), reference: `pay-${n}` });
      const ledger = await grid.send(GetLedger, { tenant, limit: 2 });
      expect(ledger.total).toBe(5);
      expect(ledger.entries.map((entry) => entry.reference)).toEqual(['pay-4', 'pay-5']);
      expect(await refusal(grid.send(GetLedger, { tenant, limit: 1001 }))).toMatchObject({ field: 'limit' });
    });
  });

  describe('reservations', () => {
    it('refuses a reservation the balance cannot cover, saying how to top up, and changes nothing', async () => {
      const tenant = newTenant();
      await grid.send(TopUpCredits, { tenant, amount: '0.0005', reference: 'pay-1' });
      const error = await refusal(grid.send(ReserveCredits, { tenant, reservationId: randomUUID(), appId: newApp(), replicas: 2, resources }));
      expect(error).toMatchObject({ code: 'INSUFFICIENT_CREDITS', details: { required: DEPLOY_TOTAL, available: '0.0005', currency: 'TFC' } });
      expect(error.message).toMatch(/myc credits add .*POST \/v1\/account\/credits/);
      expect((await grid.events(tenant)).map((event) => event.name)).toEqual(['credits-topped-up']);
      expect(await grid.send(GetAccount, { tenant })).toMatchObject({ balance: '0.0005', reserved: '0' });
    });

    it('answers a resent reservation with the same quote and holds it once', async () => {
      const tenant = newTenant();
      await grid.send(TopUpCredits, { tenant, amount: '1', reference: 'pay-1' });
      const request = { tenant, reservationId: randomUUID(), appId: newApp(), replicas: 2, resources, purpose: 'deploy' };
      const quote = await grid.send(ReserveCredits, request);
      expect(quote).toEqual({ reservationId: request.reservationId, cost: '0.0006', commission: '0.00006', total: DEPLOY_TOTAL, currency: 'TFC', periodSeconds: 0.3 });
      expect(await grid.send(ReserveCredits, request)).toEqual(quote);
      expect(await grid.send(GetAccount, { tenant })).toMatchObject({ balance: '0.99934', reserved: DEPLOY_TOTAL });
    });

    it('refunds a failed deploy once, even when the release is sent twice at once, and then refuses to capture it', async () => {
      const tenant = newTenant();
      await grid.send(TopUpCredits, { tenant, amount: '1', reference: 'pay-1' });
      const reservationId = randomUUID();
      await grid.send(ReserveCredits, { tenant, reservationId, appId: newApp(), replicas: 2, resources });
      const release = { tenant, reservationId, reason: 'no node could take the replicas' };
      const answers = await Promise.all([grid.send(ReleaseReservation, release), grid.send(ReleaseReservation, release)]);
      expect(answers.map((answer) => answer.alreadyReleased).sort()).toEqual([false, true]);
      expect(answers.map((answer) => answer.released)).toEqual([DEPLOY_TOTAL, DEPLOY_TOTAL]);
      expect(await grid.send(GetAccount, { tenant })).toMatchObject({ balance: '1', reserved: '0' });
      expect((await grid.events(tenant)).filter((event) => event.name === 'reservation-released')).toHaveLength(1);
      expect(await refusal(grid.send(CaptureReservation, { tenant, reservationId, nodes: [N1] }))).toMatchObject({ code: 'ILLEGAL_STATE' });
      expect(await refusal(grid.send(ReleaseReservation, { ...release, reservationId: randomUUID() }))).toMatchObject({ code: 'NOT_FOUND', field: 'reservationId' });
    });
  });

  describe('metering', () => {
    it('charges each period once, catching up on those missed while billing was down, with two instances after the restart', async () => {
      const tenant = newTenant();
      const { appId, reservationId } = await deploy(grid, tenant, '10');
      expect(await grid.send(CaptureReservation, { tenant, reservationId, nodes: [N2] })).toEqual({ captured: DEPLOY_TOTAL });
      await waitFor(async () => (await chargedPeriods(grid, tenant, appId)).length >= 2, { what: 'two periods charged' });

      await grid.stop(grid.instances[0]!);
      const beforeRestart = (await chargedPeriods(grid, tenant, appId)).length;
      await sleep(3 * TEST_PERIOD_MS);
      await grid.start();
      await grid.start();
      await waitFor(async () => (await chargedPeriods(grid, tenant, appId)).length >= beforeRestart + 5, { what: 'the missed periods and two more' });
      await grid.send(StopMeter, { tenant, appId });

      const periods = await chargedPeriods(grid, tenant, appId);
      expect(periods).toEqual(Array.from({ length: periods.length }, (_, index) => index + 1));
      const { state } = await replayed(grid, tenant);
      // 10 − the first period (the reservation) − every period charged since, all at 0.00066
      expect(availableOf(state)).toBe(amountText(money('10').minus(money(DEPLOY_TOTAL).times(periods.length + 1))));
      expect(state.balances['platform:commission']).toBe(amountText(money('0.00006').times(periods.length + 1)));
      expect(state.balances[`node:${N1}:earnings`]).toBe(amountText(money('0.0003').times(periods.length + 1)));
    });

    it('runs the metering loop on one instance at a time, and another takes over when it stops', async () => {
      const leaders = () => grid.instances.filter((instance) => instance.app.get(Leadership, { strict: false }).isLeader);
      while (grid.instances.length < 2) await grid.start();
      await waitFor(() => leaders().length === 1, { what: 'one leader' });
      const tenant = newTenant();
      const { appId } = await deploy(grid, tenant, '10');
      await waitFor(async () => (await chargedPeriods(grid, tenant, appId)).length >= 1, { what: 'a period charged' });
      await grid.stop(leaders()[0]!);
      await waitFor(() => leaders().length === 1, { what: 'the other instance leading' });
      const charged = (await chargedPeriods(grid, tenant, appId)).length;
      await waitFor(async () => (await chargedPeriods(grid, tenant, appId)).length >= charged + 2, { what: 'periods charged by the new leader' });
      await grid.send(StopMeter, { tenant, appId });
      const periods = await chargedPeriods(grid, tenant, appId);
      expect(periods).toEqual(Array.from({ length: periods.length }, (_, index) => index + 1));
    });

    it('meters an update’s shape from the next period, returns its guarantee, and charges nothing after a stop', async () => {
      const tenant = newTenant();
      const { appId } = await deploy(grid, tenant, '10');
      const update = { tenant, reservationId: randomUUID(), appId, replicas: 3, resources, purpose: 'update' };
      expect(await grid.send(ReserveCredits, update)).toMatchObject({ total: '0.00099' });
      expect(await grid.send(CaptureReservation, { tenant, reservationId: update.reservationId, nodes: [N1, N2, N1] })).toEqual({ captured: '0', released: '0.00099' });
      expect(await grid.send(GetAccount, { tenant })).toMatchObject({ reserved: '0' });
      await waitFor(async () => (await grid.events(tenant)).some((event) => event.name === 'usage-charged' && event.data.total === '0.00099'), { what: 'a period at the new shape' });

      const stopped = await grid.send(StopMeter, { tenant, appId });
      expect(stopped).toMatchObject({ appId, alreadyStopped: false });
      expect(await grid.send(StopMeter, { tenant, appId })).toEqual({ ...stopped, alreadyStopped: true });
      await sleep(3 * TEST_PERIOD_MS);
      expect(Math.max(...(await chargedPeriods(grid, tenant, appId)))).toBeLessThanOrEqual(stopped.lastPeriod);
      expect(await refusal(grid.send(UpdateMeter, { tenant, appId, replicas: 1, resources, nodes: [N1] }))).toMatchObject({ code: 'ILLEGAL_STATE' });
      expect(await refusal(grid.send(StopMeter, { tenant, appId: newApp() }))).toMatchObject({ code: 'NOT_FOUND', field: 'appId' });
      await replayed(grid, tenant);
    });

    it('changes a running meter’s rate with meter.update, once', async () => {
      const tenant = newTenant();
      const { appId } = await deploy(grid, tenant, '10');
      const scale = { tenant, appId, replicas: 4, resources, nodes: [N1, N2, N1, N2] };
      const changed = await grid.send(UpdateMeter, scale);
      expect(changed).toMatchObject({ appId, changed: true, periodTotal: '0.00132' });
      expect(await grid.send(UpdateMeter, scale)).toEqual({ ...changed, changed: false });
      await waitFor(async () => (await grid.events(tenant)).some((event) => event.name === 'usage-charged' && event.data.total === '0.00132'), { what: 'a period at four replicas' });
      await grid.send(StopMeter, { tenant, appId });
    });
  });
});

describe('billing service - converting credits to TFT', () => {
  let grid: BillingFixture;
  let feeds: PriceServer[];

  beforeAll(async () => {
    feeds = [await startPriceServer({ price: '0.0100' }), await startPriceServer({ data: { price: 0.0102 } }), await startPriceServer({ tft: { usd: '0.0101' } })];
    const [a, b, c] = feeds as [PriceServer, PriceServer, PriceServer];
    grid = await openBillingFixture({ priceSources: [a.url, `${b.url}#data.price`, `${c.url}#tft.usd`], priceTimeoutMs: 300, currency: { code: 'TFC', name: 'Mycelium Credits', symbol: 'TFC', usdRate: '2' } });
    await grid.start();
  });
  afterAll(async () => {
    await grid?.dispose();
    for (const feed of feeds ?? []) await feed.close();
  });

  const reservation = async () => {
    const tenant = newTenant();
    const reservationId = randomUUID();
    await grid.send(TopUpCredits, { tenant, amount: '1', reference: 'pay-1' });
    await grid.send(ReserveCredits, { tenant, reservationId, appId: newApp(), replicas: 2, resources });
    return { tenant, reservationId };
  };
  const answering = (modes: PriceServer['mode'][]) => feeds.forEach((feed, index) => (feed.mode = modes[index]!));

  it('converts the node share at the average of the sources plus 2%, records it, and answers again without asking them', async () => {
    answering(['answer', 'answer', 'answer']);
    const { tenant, reservationId } = await reservation();
    const asked = feeds.map((feed) => feed.requests);
    const conversion = await grid.send(ConvertCredits, { tenant, reservationId });
    // the cost 0.0006 credits is 0.0012 USD at 2 USD a credit; 0.0012 / 0.0101 × 1.02 = 0.121188118…
    expect(conversion).toEqual({
      reservationId,
      usd: '0.0012',
      tftUsdRate: '0.0101',
      tft: '0.12118812',
      bufferPercent: '2',
      sources: [
        { source: `${feeds[0]!.url}#price`, price: '0.01' },
        { source: `${feeds[1]!.url}#data.price`, price: '0.0102' },
        { source: `${feeds[2]!.url}#tft.usd`, price: '0.0101' },
      ],
    });
    expect(feeds.map((feed, index) => feed.requests - asked[index]!)).toEqual([1, 1, 1]);
    expect(await grid.send(ConvertCredits, { tenant, reservationId })).toEqual(conversion);
    expect(feeds.map((feed, index) => feed.requests - asked[index]!)).toEqual([1, 1, 1]);
    expect((await grid.events(tenant)).filter((event) => event.name === 'credits-converted')).toHaveLength(1);
  });

  it('converts with the sources that answer when one of three is down', async () => {
    answering(['answer', 'hang', 'answer']);
    const { tenant, reservationId } = await reservation();
    const conversion = await grid.send(ConvertCredits, { tenant, reservationId });
    expect(conversion).toMatchObject({ tftUsdRate: '0.01005', sources: [{ price: '0.01' }, { price: '0.0101' }] });
  });

  it('refuses with PRICE_SLIPPAGE when the sources disagree by more than 5%, and records nothing', async () => {
    answering(['answer', 'answer', 'answer']);
    feeds[1]!.body = { data: { price: '0.011' } };
    try {
      const { tenant, reservationId } = await reservation();
      const error = await refusal(grid.send(ConvertCredits, { tenant, reservationId }));
      expect(error).toMatchObject({ code: 'PRICE_SLIPPAGE', details: { slippagePercent: '10', maxSlippagePercent: '5' } });
      expect((await grid.events(tenant)).map((event) => event.name)).not.toContain('credits-converted');
    } finally {
      feeds[1]!.body = { data: { price: 0.0102 } };
    }
  });

  it('refuses with PRICE_UNAVAILABLE when no source answers, saying why each failed', async () => {
    answering(['fail', 'hang', 'fail']);
    const { tenant, reservationId } = await reservation();
    const error = await refusal(grid.send(ConvertCredits, { tenant, reservationId }));
    expect(error.code).toBe('PRICE_UNAVAILABLE');
    expect(error.message).toMatch(/HTTP 503.*no answer within 300 ms.*HTTP 503/);
    answering(['answer', 'answer', 'answer']);
    expect(await grid.send(ConvertCredits, { tenant, reservationId })).toMatchObject({ tftUsdRate: '0.0101' });
  });

  it('refuses to convert an unknown reservation', async () => {
    expect(await refusal(grid.send(ConvertCredits, { tenant: newTenant(), reservationId: randomUUID() }))).toMatchObject({ code: 'NOT_FOUND', field: 'reservationId' });
  });
});

describe('billing service - an exhausted balance', () => {
  let grid: BillingFixture;
  let deployment: CommandServer;
  const suspensions: SuspendAppV1[] = [];

  beforeAll(async () => {
    grid = await openBillingFixture({ graceMs: 600 });
    // The deployment service's side of SuspendApp, on the real NATS.
    deployment = new CommandServer({ service: 'deployment', nc: grid.bus.nc, registry: gridRegistry(), topology: grid.bus.topology, logger: createLogger({ name: 'deployment-stand-in', level: 'silent' }) });
    deployment.handle(SuspendApp.subject, async ({ payload }) => {
      suspensions.push(payload as SuspendAppV1);
      return { suspended: true };
    });
    await grid.start();
  });
  afterAll(async () => {
    await deployment?.stop();
    await grid?.dispose();
  });

  it('asks the deployment service to suspend the app once the grace is over, and records its answer', async () => {
    const tenant = newTenant();
    // enough for the reservation and one period
    const { appId } = await deploy(grid, tenant, '0.00132');
    await waitFor(async () => (await grid.events(tenant)).some((event) => event.name === 'app-suspension-confirmed'), { what: 'the suspension confirmed' });
    expect(suspensions.filter((request) => request.appId === appId)).toEqual([{ appId, tenant, reason: expect.stringMatching(/top up/) }]);
    const names = (await grid.events(tenant)).map((event) => event.name);
    expect(names).toEqual([
      'credits-topped-up',
      'credits-reserved',
      'reservation-captured',
      'meter-started',
      'usage-charged',
      'balance-low',
      'balance-exhausted',
      'app-suspension-requested',
      'app-suspension-confirmed',
    ]);
    const { state } = await replayed(grid, tenant);
    expect(availableOf(state)).toBe('0');
    expect(state.meters[appId]).toMatchObject({ status: 'suspended', suspensionConfirmed: true });
  });
});

describe('billing service - a top-up within the grace', () => {
  let grid: BillingFixture;

  beforeAll(async () => {
    grid = await openBillingFixture({ graceMs: 60_000 });
    await grid.start();
  });
  afterAll(() => grid?.dispose());

  it('pays what is owed and meters on', async () => {
    const tenant = newTenant();
    const { appId } = await deploy(grid, tenant, '0.00132');
    await waitFor(async () => (await grid.events(tenant)).some((event) => event.name === 'balance-exhausted'), { what: 'the balance exhausted' });
    await sleep(2 * TEST_PERIOD_MS);
    await grid.send(TopUpCredits, { tenant, amount: '1', reference: 'pay-2' });
    await waitFor(
      async () => {
        const events = await grid.events(tenant);
        const caughtUp = events.findIndex((event) => event.name === 'usage-charged' && event.data.arrears === 0 && (event.data.period as number) > 1);
        return caughtUp >= 0 && events.slice(caughtUp + 1).some((event) => event.name === 'usage-charged');
      },
      { what: 'the debt paid and a period after it' },
    );
    const periods = await chargedPeriods(grid, tenant, appId);
    expect(periods).toEqual(Array.from({ length: periods.length }, (_, index) => index + 1));
    expect((await grid.events(tenant)).map((event) => event.name)).not.toContain('app-suspension-requested');
    await grid.send(StopMeter, { tenant, appId });
    await replayed(grid, tenant);
  });
});

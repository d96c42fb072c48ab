import { type AppRoute, ContractRegistry, ListRoutes } from '@mycelium/contracts';
import { CommandClient, CommandServer } from '@mycelium/messaging';
import { createLogger } from '@mycelium/telemetry';
import { openTestBus, type TestBus, waitFor } from '@mycelium/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeploymentRouteSource, type DeploymentRouteSourceOptions } from './deployment-route-source.js';
import { routeTo } from './ingress.fixture.js';

const logger = createLogger({ name: 'ingress-test', level: 'silent' });

describe('deployment route source', () => {
  let bus: TestBus;
  let deployment: CommandServer | undefined;
  const sources: DeploymentRouteSource[] = [];
  /** What the stand-in deployment answers, and how often it was asked. */
  let answer: AppRoute[];
  let asked: number;

  /** A stand-in for the deployment service on the real NATS: answers ListRoutes with `answer`. */
  const startDeployment = () => {
    deployment = new CommandServer({ service: 'deployment', nc: bus.nc, registry: new ContractRegistry([ListRoutes]), topology: bus.topology, logger });
    deployment.handle(ListRoutes.subject, async () => {
      asked += 1;
      return { routes: answer };
    });
  };
  const open = async (options: Partial<DeploymentRouteSourceOptions> = {}) => {
    const source = new DeploymentRouteSource({ client: new CommandClient(bus.nc, bus.topology), nc: bus.nc, topology: bus.topology, logger, ...options });
    sources.push(source);
    await source.start();
    return source;
  };
  const names = (source: DeploymentRouteSource) => source.routes().map((route) => route.name);

  beforeEach(async () => {
    bus = await openTestBus();
    answer = [routeTo('shop', [{ id: 'r1', address: '127.0.0.1:9001' }])];
    asked = 0;
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((source) => source.stop()));
    await deployment?.stop();
    deployment = undefined;
    await bus.dispose();
  });

  it('asks deployment for the routes when it starts', async () => {
    startDeployment();
    const source = await open();
    expect(source.routes()).toEqual(answer);
    expect(source.answering).toBe(true);
  });

  it('asks again at once when an app event goes by, without waiting for the period', async () => {
    startDeployment();
    const source = await open({ refreshMs: 60 * 60_000 });
    answer = [...answer, routeTo('blog', [{ id: 'b1', address: '127.0.0.1:9002' }])];
    bus.nc.publish(bus.topology.subject('evt.deployment.app.replica-started'), '{}');
    await waitFor(() => names(source).includes('blog'), { what: 'the nudged refresh' });
    expect(names(source)).toEqual(['shop', 'blog']);
  });

  it('asks every period, event or not', async () => {
    startDeployment();
    const source = await open({ refreshMs: 50 });
    answer = [];
    await waitFor(() => source.routes().length === 0, { what: 'a periodic refresh' });
  });

  it('keeps serving the last routes while deployment does not answer, and takes new ones when it is back', async () => {
    startDeployment();
    const source = await open({ refreshMs: 50, timeoutMs: 200 });
    const before = source.routes();
    await deployment!.stop();
    deployment = undefined;
    await waitFor(() => source.answering === false, { what: 'deployment to be missed' });
    expect(source.routes()).toBe(before);
    answer = [routeTo('blog', [{ id: 'b1', address: '127.0.0.1:9002' }])];
    startDeployment();
    await waitFor(() => source.answering === true && names(source)[0] === 'blog', { what: 'deployment to be back' });
  });

  it('starts without routes, and without failing, when deployment is not running', async () => {
    const source = await open({ refreshMs: 50, timeoutMs: 200 });
    expect(source.routes()).toEqual([]);
    expect(source.answering).toBe(false);
    startDeployment();
    await waitFor(() => names(source)[0] === 'shop', { what: 'the first routes' });
  });

  it('hands out the same list while the routes stay the same, so the table is not rebuilt', async () => {
    startDeployment();
    const source = await open({ refreshMs: 20 });
    const first = source.routes();
    const askedBefore = asked;
    await waitFor(() => asked >= askedBefore + 3, { what: 'a few refreshes' });
    expect(source.routes()).toBe(first);
  });
});

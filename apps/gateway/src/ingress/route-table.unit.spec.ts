import type { AppRoute, LoadBalancingStrategy } from '@mycelium/contracts';
import { describe, expect, it } from 'vitest';
import { RouteTable } from './route-table.js';

const breaker = { failureThreshold: 2, coolDownMs: 1000 };
const random = () => 0.5;

const route = (name: string, replicas: string[], strategy: LoadBalancingStrategy = 'round-robin'): AppRoute => ({
  appId: `app_${name}000000000000`,
  tenant: 'acme',
  name,
  strategy,
  replicas: replicas.map((id, index) => ({ replicaId: id, nodeId: `node-${id}`, address: `127.0.0.1:${9001 + index}`, weight: 1 })),
});

/** The table with `routes`, and the replica ids of `count` choices for app `name` at time `now`. */
const choices = (table: RouteTable, name: string, count: number, now = 0) =>
  Array.from({ length: count }, () => table.choose(table.find('acme', name)!, now, random)!.replica.replicaId);

describe('route table', () => {
  it('finds apps by tenant and name, whatever their case', () => {
    const table = new RouteTable(breaker);
    table.replace([route('shop', ['r1'])]);
    expect(table.find('ACME', 'Shop')?.label).toBe('acme/shop');
    expect(table.find('acme', 'blog')).toBeUndefined();
  });

  it('skips a replica whose breaker is open while others remain', () => {
    const table = new RouteTable(breaker);
    table.replace([route('shop', ['r1', 'r2', 'r3'])]);
    const r2 = table.find('acme', 'shop')!.replicas[1]!;
    r2.failed(0);
    r2.failed(0);
    expect(choices(table, 'shop', 6, 10)).toEqual(['r1', 'r3', 'r1', 'r3', 'r1', 'r3']);
  });

  it('sends one trial to the replica once the cool-down has passed', () => {
    const table = new RouteTable(breaker);
    table.replace([route('shop', ['r1', 'r2'])]);
    const r1 = table.find('acme', 'shop')!.replicas[0]!;
    r1.failed(0);
    r1.failed(0);
    const after = choices(table, 'shop', 4, 1000);
    expect(after.filter((id) => id === 'r1')).toHaveLength(1);
    expect(r1.breaker.state(1000)).toBe('half-open');
  });

  it('tries a replica anyway when every breaker is open, rather than refusing unasked', () => {
    const table = new RouteTable(breaker);
    table.replace([route('shop', ['r1'])]);
    const r1 = table.find('acme', 'shop')!.replicas[0]!;
    r1.failed(0);
    r1.failed(0);
    expect(choices(table, 'shop', 2, 10)).toEqual(['r1', 'r1']);
  });

  it('moves a retry to another replica than the one that failed, and has none to offer for a lone replica', () => {
    const table = new RouteTable(breaker);
    table.replace([route('shop', ['r1', 'r2']), route('blog', ['b1'])]);
    const shop = table.find('acme', 'shop')!;
    for (const failed of shop.replicas) expect(table.choose(shop, 0, random, failed)).not.toBe(failed);
    const blog = table.find('acme', 'blog')!;
    expect(table.choose(blog, 0, random, blog.replicas[0])).toBeUndefined();
  });

  it('keeps what it knows of replicas that stay across a refresh, and forgets those that left', () => {
    const table = new RouteTable(breaker);
    table.replace([route('shop', ['r1', 'r2'])]);
    const before = table.find('acme', 'shop')!.replicas;
    before[0]!.failed(0);
    before[0]!.failed(0);
    before[1]!.succeeded(12, 0);
    table.replace([route('shop', ['r1', 'r2', 'r3'])]);
    const after = table.find('acme', 'shop')!.replicas;
    expect(after[0]).toBe(before[0]);
    expect(after[0]!.breaker.state(10)).toBe('open');
    expect(after[1]!.latencyMs).toBe(12);
    table.replace([route('shop', ['r2'])]);
    table.replace([route('shop', ['r1', 'r2'])]);
    expect(table.find('acme', 'shop')!.replicas[0]!.breaker.state(10)).toBe('closed');
  });

  it('keeps the turn of an app across a refresh: a refresh does not send the next request to the first replica again', () => {
    const table = new RouteTable(breaker);
    const routes = [route('shop', ['r1', 'r2', 'r3'])];
    table.replace(routes);
    expect(choices(table, 'shop', 1)).toEqual(['r1']);
    table.replace([route('shop', ['r1', 'r2', 'r3'])]);
    expect(choices(table, 'shop', 2)).toEqual(['r2', 'r3']);
  });

  it('rebuilds only when handed a new list', () => {
    const table = new RouteTable(breaker);
    const routes = [route('shop', ['r1'])];
    table.sync(routes);
    const entry = table.find('acme', 'shop');
    table.sync(routes);
    expect(table.find('acme', 'shop')).toBe(entry);
  });

  it('leaves out replicas without a usable address and says which, serving the rest', () => {
    const table = new RouteTable(breaker);
    const shop = route('shop', ['r1', 'r2']);
    shop.replicas[1]!.address = 'nowhere';
    const rejected = table.replace([shop]);
    expect(rejected).toEqual([expect.stringContaining('"r2"')]);
    expect(table.find('acme', 'shop')!.replicas.map((state) => state.replica.replicaId)).toEqual(['r1']);
  });

  it('balances an app whose strategy it does not know round-robin', () => {
    const table = new RouteTable(breaker);
    table.replace([route('shop', ['r1', 'r2'], 'fastest-first' as LoadBalancingStrategy)]);
    expect(table.find('acme', 'shop')!.strategy).toBe('round-robin');
    expect(choices(table, 'shop', 4)).toEqual(['r1', 'r2', 'r1', 'r2']);
  });
});

import { type AppRoute, LB_STRATEGIES, type LoadBalancingStrategy } from '@mycelium/contracts';
import { type BreakerOptions, type BreakerState, DEFAULT_BREAKER } from './circuit-breaker.js';
import { parseAddress, type Picker, pickerFor, ReplicaState } from './load-balancer.js';

/** An app the ingress serves, with the state of its replicas and its picker. */
export interface AppEntry {
  route: AppRoute;
  /** `<tenant>/<name>`: how metrics and logs name the app. */
  label: string;
  strategy: LoadBalancingStrategy;
  replicas: ReplicaState[];
  picker: Picker;
}

/** A replica as `inspect` shows it. */
export interface ReplicaReport {
  replicaId: string;
  address: string;
  breaker: BreakerState;
  inFlight: number;
  attempts: number;
  latencyMs?: number;
}

const NOTHING_REJECTED: readonly string[] = Object.freeze([]);
const keyOf = (tenant: string, name: string) => `${tenant.toLowerCase()}/${name.toLowerCase()}`;
const replicaKey = (appId: string, replica: { replicaId: string; address: string }) => `${appId}/${replica.replicaId}@${replica.address}`;

/**
 * The apps the ingress serves and what it knows of their replicas, without I/O. A new route list
 * replaces the apps, but a replica that stays (same app, id and address) keeps its breaker, counters
 * and latency, and an app that stays keeps its picker, so a refresh changes nothing in flight.
 */
export class RouteTable {
  #apps = new Map<string, AppEntry>();
  #replicas = new Map<string, ReplicaState>();
  #routes: readonly AppRoute[] | undefined;

  constructor(private readonly breaker: BreakerOptions = DEFAULT_BREAKER) {}

  /** Takes `routes` unless they are the list already in use (a source hands out the same array until it changes). */
  sync(routes: readonly AppRoute[]): readonly string[] {
    return routes === this.#routes ? NOTHING_REJECTED : this.replace(routes);
  }

  /**
   * Serves `routes` from now on, and returns what it had to leave out: a route without tenant or
   * name, a replica whose address is not host:port. Those are the sender's mistakes; the rest serves.
   */
  replace(routes: readonly AppRoute[]): string[] {
    const apps = new Map<string, AppEntry>();
    const replicas = new Map<string, ReplicaState>();
    const rejected: string[] = [];
    for (const route of routes) {
      if (typeof route?.tenant !== 'string' || typeof route.name !== 'string' || !Array.isArray(route.replicas)) {
        rejected.push(`route ${JSON.stringify(route?.appId)}: no tenant, name or replicas list`);
        continue;
      }
      const strategy = (LB_STRATEGIES as readonly string[]).includes(route.strategy) ? route.strategy : 'round-robin';
      const key = keyOf(route.tenant, route.name);
      const previous = this.#apps.get(key);
      const states: ReplicaState[] = [];
      for (const replica of route.replicas) {
        if (!parseAddress(replica?.address)) {
          rejected.push(`replica ${JSON.stringify(replica?.replicaId)} of ${route.tenant}/${route.name}: address ${JSON.stringify(replica?.address)} is not host:port`);
          continue;
        }
        const id = replicaKey(route.appId, replica);
        const state = this.#replicas.get(id) ?? replicas.get(id) ?? new ReplicaState(replica, this.breaker);
        state.replica = replica;
        replicas.set(id, state);
        states.push(state);
      }
      const samePicker = previous && previous.route.appId === route.appId && previous.strategy === strategy;
      apps.set(key, { route, label: `${route.tenant}/${route.name}`, strategy, replicas: states, picker: samePicker ? previous.picker : pickerFor(strategy) });
    }
    this.#apps = apps;
    this.#replicas = replicas;
    this.#routes = routes;
    return rejected;
  }

  find(tenant: string, name: string): AppEntry | undefined {
    return this.#apps.get(keyOf(tenant, name));
  }

  /**
   * The replica for the next request to `app`, other than `excluded` (the one a retry moves away
   * from). Replicas whose breaker refuses are skipped while others exist; when every breaker
   * refuses, one is tried anyway rather than failing the request unasked. The caller reports the
   * outcome to the replica's breaker.
   */
  choose(app: AppEntry, now: number, random: () => number, excluded?: ReplicaState): ReplicaState | undefined {
    // The common case, every replica open to traffic, allocates nothing: this runs per request.
    let candidates: readonly ReplicaState[] = app.replicas;
    if (excluded || !app.replicas.every((state) => state.breaker.admits(now))) {
      candidates = app.replicas.filter((state) => state !== excluded && state.breaker.admits(now));
      if (candidates.length === 0) candidates = app.replicas.filter((state) => state !== excluded);
    }
    if (candidates.length === 0) return undefined;
    const picked = candidates.length === 1 ? candidates[0]! : app.picker.pick(candidates, now, random);
    picked.breaker.acquire(now);
    return picked;
  }

  /** What the table knows of an app's replicas, for diagnostics and tests. */
  inspect(tenant: string, name: string, now: number): ReplicaReport[] | undefined {
    return this.find(tenant, name)?.replicas.map((state) => ({
      replicaId: state.replica.replicaId,
      address: state.replica.address,
      breaker: state.breaker.state(now),
      inFlight: state.inFlight,
      attempts: state.attempts,
      ...(state.latencyMs !== undefined ? { latencyMs: state.latencyMs } : {}),
    }));
  }
}

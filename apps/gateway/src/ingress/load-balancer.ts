import type { LoadBalancingStrategy, RouteReplica } from '@mycelium/contracts';
import { type BreakerOptions, CircuitBreaker, DEFAULT_BREAKER } from './circuit-breaker.js';

/** Recent outcomes lose half their weight every this many milliseconds (health-based picking). */
const OUTCOME_HALF_LIFE_MS = 30_000;
/** Weight of the newest response time in the moving average (latency-based picking). */
const LATENCY_SMOOTHING = 0.3;
/** Share of latency-based picks sent to another replica than the fastest, to notice a recovery. */
export const LATENCY_EXPLORATION = 0.05;
/** Health scores closer than this are equals, and share the traffic. */
const HEALTH_TOLERANCE = 0.05;

/** `host:port` or `[v6]:port` as a host and a port; undefined when it is neither. */
export function parseAddress(address: unknown): { host: string; port: number } | undefined {
  if (typeof address !== 'string') return undefined;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([a-zA-Z0-9.-]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65_535) return undefined;
  return { host: match[1] ?? match[2]!, port };
}

/**
 * What the ingress knows of one replica: requests in flight, recent outcomes, response time, and its
 * circuit breaker. It outlives route refreshes for as long as the replica stays in the table.
 */
export class ReplicaState {
  readonly breaker: CircuitBreaker;
  /** Where to connect, from `replica.address`. */
  host = '';
  port = 0;
  inFlight = 0;
  /** Requests sent to it (retries included). */
  attempts = 0;
  /** Moving average of the time to response headers; undefined until it has answered once. */
  latencyMs: number | undefined;
  #successes = 0;
  #failures = 0;
  #outcomesAt = 0;

  #replica!: RouteReplica;

  constructor(replica: RouteReplica, breaker: BreakerOptions = DEFAULT_BREAKER) {
    this.breaker = new CircuitBreaker(breaker);
    this.replica = replica;
  }

  get replica(): RouteReplica {
    return this.#replica;
  }

  set replica(replica: RouteReplica) {
    const target = parseAddress(replica.address);
    if (!target) throw new Error(`replica ${replica.replicaId} has address ${JSON.stringify(replica.address)}, not host:port`);
    this.#replica = replica;
    this.host = target.host;
    this.port = target.port;
  }

  /** A request is sent to the replica. */
  started(): void {
    this.inFlight += 1;
    this.attempts += 1;
  }

  /** The request ended (in any way): it no longer counts as in flight. */
  finished(): void {
    this.inFlight -= 1;
  }

  succeeded(latencyMs: number, now: number): void {
    this.#decay(now);
    this.#successes += 1;
    this.latencyMs = this.latencyMs === undefined ? latencyMs : this.latencyMs + LATENCY_SMOOTHING * (latencyMs - this.latencyMs);
    this.breaker.succeeded();
  }

  /** Records a failure; returns true when it opened the breaker. */
  failed(now: number): boolean {
    this.#decay(now);
    this.#failures += 1;
    return this.breaker.failed(now);
  }

  /**
   * Share of recent requests that failed, 0 (healthy, or unknown) to nearly 1. The +1 keeps one
   * early failure from ranking a replica below others for long.
   */
  failureRatio(now: number): number {
    this.#decay(now);
    return this.#failures / (this.#successes + this.#failures + 1);
  }

  #decay(now: number): void {
    const elapsed = now - this.#outcomesAt;
    if (elapsed <= 0) return;
    const factor = 0.5 ** (elapsed / OUTCOME_HALF_LIFE_MS);
    this.#successes *= factor;
    this.#failures *= factor;
    this.#outcomesAt = now;
  }
}

/** Chooses one of the candidates (never empty, in the route's order). */
export interface Picker {
  pick(candidates: readonly ReplicaState[], now: number, random: () => number): ReplicaState;
}

/** Each in turn. */
export class RoundRobin implements Picker {
  #next = 0;

  pick(candidates: readonly ReplicaState[]): ReplicaState {
    const picked = candidates[this.#next % candidates.length]!;
    this.#next = (this.#next + 1) % Number.MAX_SAFE_INTEGER;
    return picked;
  }
}

/** In turn among those that are equally good. */
function rotate(equals: readonly ReplicaState[], turn: RoundRobin): ReplicaState {
  return equals.length === 1 ? equals[0]! : turn.pick(equals);
}

/** The fewest requests in flight; ties in turn. */
export class LeastConnections implements Picker {
  readonly #turn = new RoundRobin();

  pick(candidates: readonly ReplicaState[]): ReplicaState {
    let fewest = Number.POSITIVE_INFINITY;
    for (const candidate of candidates) fewest = Math.min(fewest, candidate.inFlight);
    return rotate(
      candidates.filter((candidate) => candidate.inFlight === fewest),
      this.#turn,
    );
  }
}

/** A replica's weight; anything but a positive number counts as 1. */
const weightOf = (state: ReplicaState) => (Number.isFinite(state.replica.weight) && state.replica.weight > 0 ? state.replica.weight : 1);

/**
 * Smooth weighted round-robin, as nginx does it: each pick adds every candidate's weight to its
 * running score, takes the highest, and lowers it by the total. Weights 5/1/1 give a a b a c a a,
 * spreading the light replicas out instead of sending them bursts.
 */
export class SmoothWeightedRoundRobin implements Picker {
  readonly #current = new WeakMap<ReplicaState, number>();

  pick(candidates: readonly ReplicaState[]): ReplicaState {
    let total = 0;
    let best: ReplicaState | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const candidate of candidates) {
      const weight = weightOf(candidate);
      const score = (this.#current.get(candidate) ?? 0) + weight;
      this.#current.set(candidate, score);
      total += weight;
      if (score > bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    this.#current.set(best!, bestScore - total);
    return best!;
  }
}

/** The smallest share of recent failures; replicas within a few percent of it share the traffic. */
export class HealthBased implements Picker {
  readonly #turn = new RoundRobin();

  pick(candidates: readonly ReplicaState[], now: number): ReplicaState {
    const ratios = candidates.map((candidate) => candidate.failureRatio(now));
    const best = Math.min(...ratios);
    return rotate(
      candidates.filter((_, index) => ratios[index]! <= best + HEALTH_TOLERANCE),
      this.#turn,
    );
  }
}

/**
 * The lowest moving average of response time; a replica not yet measured first. A few picks
 * (LATENCY_EXPLORATION) go to another replica, so one that was slow and has recovered gets the
 * measurements that bring its average down.
 */
export class LatencyBased implements Picker {
  readonly #turn = new RoundRobin();

  pick(candidates: readonly ReplicaState[], _now: number, random: () => number): ReplicaState {
    const latency = (state: ReplicaState) => state.latencyMs ?? -1;
    let lowest = Number.POSITIVE_INFINITY;
    for (const candidate of candidates) lowest = Math.min(lowest, latency(candidate));
    const fastest = candidates.filter((candidate) => latency(candidate) === lowest);
    if (fastest.length < candidates.length && random() < LATENCY_EXPLORATION) {
      const others = candidates.filter((candidate) => latency(candidate) !== lowest);
      return others[Math.floor(random() * others.length)]!;
    }
    return rotate(fastest, this.#turn);
  }
}

export function pickerFor(strategy: LoadBalancingStrategy): Picker {
  switch (strategy) {
    case 'round-robin':
      return new RoundRobin();
    case 'least-connections':
      return new LeastConnections();
    case 'weighted-round-robin':
      return new SmoothWeightedRoundRobin();
    case 'health-based':
      return new HealthBased();
    case 'latency-based':
      return new LatencyBased();
    default: {
      const unknown: never = strategy;
      throw new Error(`unknown load-balancing strategy ${JSON.stringify(unknown)}`);
    }
  }
}

import type { AppRoute } from '@mycelium/contracts';

/**
 * Where the ingress learns which apps to serve. `routes()` is read on every request, so it must be
 * cheap: it hands out the same array until the routes change, and a new array when they do.
 */
export interface RouteSource {
  routes(): readonly AppRoute[];
}

/** Routes given in code: for tests, benchmarks, and an ingress without a grid behind it. */
export class StaticRouteSource implements RouteSource {
  #routes: readonly AppRoute[];

  constructor(routes: readonly AppRoute[] = []) {
    this.#routes = routes;
  }

  routes(): readonly AppRoute[] {
    return this.#routes;
  }

  set(routes: readonly AppRoute[]): void {
    this.#routes = [...routes];
  }
}

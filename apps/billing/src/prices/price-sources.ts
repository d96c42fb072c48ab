import { Inject, Injectable } from '@nestjs/common';
import { amountText, money } from '../domain/money.js';
import type { SourceAnswer } from '../domain/oracle.js';
import { BILLING_CONFIG, type BillingConfig, parsePriceSource, type PriceSource } from '../billing.config.js';

/** The TFT price sources, asked all at once; each answers a price or why it has none. */
@Injectable()
export class PriceSources {
  readonly #sources: PriceSource[];

  constructor(@Inject(BILLING_CONFIG) private readonly config: BillingConfig) {
    this.#sources = config.priceSources.map(parsePriceSource);
  }

  ask(): Promise<SourceAnswer[]> {
    return Promise.all(this.#sources.map((source) => this.#ask(source)));
  }

  async #ask(source: PriceSource): Promise<SourceAnswer> {
    if (source.kind === 'fixed') return { source: source.name, price: source.price };
    const timeoutMs = this.config.priceTimeoutMs;
    let body: unknown;
    try {
      const response = await fetch(source.url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      if (!response.ok) {
        await response.body?.cancel();
        return { source: source.name, error: `HTTP ${response.status}` };
      }
      body = JSON.parse(await response.text());
    } catch (error) {
      return { source: source.name, error: describe(error, timeoutMs) };
    }
    const value = source.path.reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), body);
    const price = priceOf(value);
    return price ? { source: source.name, price } : { source: source.name, error: `no positive price at ${source.path.join('.')}` };
  }
}

/** A price as a decimal string of 8 places at most, or undefined when it is not a positive number. */
function priceOf(value: unknown): string | undefined {
  if (typeof value === 'number' && !Number.isFinite(value)) return undefined;
  if (typeof value !== 'number' && (typeof value !== 'string' || !/^\s*\d+(\.\d+)?([eE][-+]?\d+)?\s*$/.test(value))) return undefined;
  const price = amountText(money(typeof value === 'number' ? String(value) : value.trim()));
  return price === '0' || !/^\d{1,15}(\.\d{1,8})?$/.test(price) ? undefined : price;
}

function describe(error: unknown, timeoutMs: number): string {
  const name = (error as Error).name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  if (error instanceof SyntaxError) return 'the answer is not JSON';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

import { BillingErrors, CommandRejection, type Conversion, type PriceQuote } from '@mycelium/contracts';
import { amountText, money, sum } from './money.js';

/** The seeds' buffer against the price moving between conversion and payment. */
export const BUFFER_PERCENT = '2';

export interface OracleRules {
  /** Refuse when (max − min) / min of the answering sources exceeds this, in percent. */
  maxSlippagePercent: string;
  bufferPercent: string;
}

/** What a source said: a price, or why it said nothing. */
export type SourceAnswer = { source: string; price: string } | { source: string; error: string };

/**
 * Converts `usd` to TFT at the average price (US dollars per TFT) of the sources that answered,
 * plus the buffer: tft = usd / rate × (1 + buffer/100), the rate and tft rounded to 8 decimals
 * half-up (tft from the rounded rate, so anyone can recompute it from the recorded figures).
 */
export function convertAtAverage(reservationId: string, usd: string, answers: SourceAnswer[], rules: OracleRules): Conversion {
  const quotes: PriceQuote[] = answers.filter((answer): answer is PriceQuote => 'price' in answer);
  if (quotes.length === 0) {
    const why = answers.map((answer) => `${answer.source}: ${'error' in answer ? answer.error : 'no price'}`).join('; ');
    throw new CommandRejection({
      code: BillingErrors.PriceUnavailable,
      message: `no TFT price source answered (${why || 'none configured'}); try again shortly, or check MYCELIUM_PRICE_SOURCES`,
      details: { sources: answers },
    });
  }
  const prices = quotes.map((quote) => money(quote.price));
  const min = prices.reduce((a, b) => (b.lessThan(a) ? b : a));
  const max = prices.reduce((a, b) => (b.greaterThan(a) ? b : a));
  const slippage = max.minus(min).dividedBy(min).times(100);
  if (slippage.greaterThan(rules.maxSlippagePercent)) {
    throw new CommandRejection({
      code: BillingErrors.PriceSlippage,
      message: `the TFT price sources disagree by ${amountText(slippage)}%, more than the ${rules.maxSlippagePercent}% allowed: try again once they agree`,
      details: { sources: quotes, slippagePercent: amountText(slippage), maxSlippagePercent: rules.maxSlippagePercent },
    });
  }
  const rate = money(amountText(sum(prices).dividedBy(prices.length)));
  if (rate.isZero()) {
    throw new CommandRejection({ code: BillingErrors.PriceUnavailable, message: 'the TFT price rounds to zero: check the price sources' });
  }
  const buffer = money(1).plus(money(rules.bufferPercent).dividedBy(100));
  return {
    reservationId,
    usd,
    tftUsdRate: amountText(rate),
    tft: amountText(money(usd).dividedBy(rate).times(buffer)),
    bufferPercent: rules.bufferPercent,
    sources: quotes.map((quote) => ({ source: quote.source, price: quote.price })),
  };
}

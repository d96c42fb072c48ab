import { IsUUID } from 'class-validator';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';

export class ConvertCreditsV1 {
  @IsTenant()
  tenant!: string;

  @IsUUID()
  reservationId!: string;
}

export interface PriceQuote {
  /** Where the price came from: `fixed:<price>` or the source's URL without its query. */
  source: string;
  /** US dollars per TFT. */
  price: string;
}

export interface Conversion {
  reservationId: string;
  /** The node owners' share (cost, without commission) in US dollars. */
  usd: string;
  /** US dollars per TFT: the average of the sources that answered. */
  tftUsdRate: string;
  /** usd / tftUsdRate × (1 + bufferPercent/100), rounded to 8 decimals half-up. */
  tft: string;
  bufferPercent: string;
  sources: PriceQuote[];
}

export const ConvertCredits = defineCommand<ConvertCreditsV1, Conversion>({
  service: 'billing',
  name: 'conversion.convert',
  payload: ConvertCreditsV1,
  description:
    'Converts a reservation’s node share to TFT at the average price of the configured sources plus a 2% buffer, and records it; asking again answers the recorded conversion. ' +
    'Refused with PRICE_UNAVAILABLE when no source answers and PRICE_SLIPPAGE when the answering sources disagree by more than the allowed slippage.',
});

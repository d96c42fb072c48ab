import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsISO8601, IsString, IsUUID, Length, ValidateNested } from 'class-validator';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';

export class PriceQuoteV1 {
  @IsString()
  @Length(1, 300)
  source!: string;

  @IsCreditAmount({ positive: true })
  price!: string;
}

export class CreditsConvertedV1 {
  @IsTenant()
  tenant!: string;

  @IsUUID()
  reservationId!: string;

  @IsCreditAmount()
  usd!: string;

  @IsCreditAmount({ positive: true })
  tftUsdRate!: string;

  @IsCreditAmount()
  tft!: string;

  @IsCreditAmount()
  bufferPercent!: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => PriceQuoteV1)
  sources!: PriceQuoteV1[];

  @IsISO8601()
  at!: string;
}

export const CreditsConverted = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'credits-converted',
  version: 1,
  payload: CreditsConvertedV1,
  description: 'A reservation’s node share was priced in TFT (average of the price sources plus a buffer). No credits move.',
});

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { type AccountView, IsCreditAmount, IsTenant, type LedgerLine, type LedgerView, type TopUpResult } from '@mycelium/contracts';

/** The body of POST /v1/account/credits. */
export class TopUpBodyDto {
  @ApiProperty({ example: '25.00', description: 'credits to add: a decimal string, at most 8 decimals, more than zero' })
  @IsCreditAmount({ positive: true })
  amount!: string;

  @ApiProperty({ example: 'stripe:pi_3Nx…', description: 'the payment’s own id: the same reference is credited once', minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  reference!: string;

  @ApiPropertyOptional({ example: 'acme', description: 'whose account; default the key’s tenant, or `default`' })
  @IsOptional()
  @IsTenant()
  tenant?: string;
}

export class TopUpResultDto implements TopUpResult {
  @ApiProperty() tenant!: string;
  @ApiProperty({ description: 'false when this reference had been credited already: nothing changed' }) credited!: boolean;
  @ApiProperty({ example: '25', description: 'spendable credits afterwards' }) balance!: string;
}

class CurrencyDto {
  @ApiProperty({ example: 'TFC' }) code!: string;
  @ApiProperty({ example: 'Mycelium Credits' }) name!: string;
  @ApiProperty({ example: 'TFC' }) symbol!: string;
  @ApiProperty({ example: '1', description: 'US dollars per credit' }) usdRate!: string;
}

export class AccountDto implements AccountView {
  @ApiProperty() tenant!: string;
  @ApiProperty({ example: '24.97', description: 'spendable credits' }) balance!: string;
  @ApiProperty({ example: '0.00066', description: 'credits held for deployments in progress' }) reserved!: string;
  @ApiProperty({ type: CurrencyDto }) currency!: CurrencyDto;
}

class LedgerEntryDto implements LedgerLine {
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ example: 'usage-charged', description: 'the event that moved the credits' }) type!: string;
  @ApiProperty({ example: 'tenant:acme:available' }) debit!: string;
  @ApiProperty({ example: 'platform:commission' }) credit!: string;
  @ApiProperty({ example: '0.00006' }) amount!: string;
  @ApiPropertyOptional({ description: 'the top-up’s reference, the reservation id, or <appId>/period/<n>' }) reference?: string;
}

export class LedgerDto implements LedgerView {
  @ApiProperty({ type: [LedgerEntryDto], description: 'the newest entries, oldest first' }) entries!: LedgerEntryDto[];
  @ApiProperty({ description: 'entries in the whole ledger' }) total!: number;
}

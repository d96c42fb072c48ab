import { IsISO8601, IsUUID, Matches } from 'class-validator';
import { APP_ID } from '../deployment/suspend-app.command.js';
import { defineEvent } from '../registry.js';
import { IsCreditAmount, IsTenant } from '../tenancy.js';
import { LedgerEntries, type LedgerEntryV1, ReplicaNodes } from './shared.js';

export class ReservationCapturedV1 {
  @IsTenant()
  tenant!: string;

  @IsUUID()
  reservationId!: string;

  @Matches(APP_ID)
  appId!: string;

  @ReplicaNodes()
  nodes!: string[];

  @IsCreditAmount()
  captured!: string;

  /** tenant:<t>:reserved → platform:commission and → node:<id>:earnings. */
  @LedgerEntries()
  entries!: LedgerEntryV1[];

  @IsISO8601()
  at!: string;
}

export const ReservationCaptured = defineEvent({
  service: 'billing',
  aggregate: 'account',
  name: 'reservation-captured',
  version: 1,
  payload: ReservationCapturedV1,
  description: 'A deploy succeeded: its reservation paid the first period to the platform’s commission and the nodes’ earnings.',
});

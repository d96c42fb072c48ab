import { IsString, IsUUID, Length } from 'class-validator';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';

export class ReleaseReservationV1 {
  @IsTenant()
  tenant!: string;

  @IsUUID()
  reservationId!: string;

  @IsString()
  @Length(1, 500)
  reason!: string;
}

export interface ReleaseResult {
  released: string;
  /** True when it had been released before: nothing changed. */
  alreadyReleased: boolean;
}

export const ReleaseReservation = defineCommand<ReleaseReservationV1, ReleaseResult>({
  service: 'billing',
  name: 'reservation.release',
  payload: ReleaseReservationV1,
  description: 'A deploy failed: returns the reserved credits to the tenant’s spendable balance, exactly once. ILLEGAL_STATE once captured. Answers `{ released, alreadyReleased }`.',
});

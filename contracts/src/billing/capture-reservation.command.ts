import { IsUUID } from 'class-validator';
import { defineCommand } from '../registry.js';
import { IsTenant } from '../tenancy.js';
import { ReplicaNodes } from './shared.js';

export class CaptureReservationV1 {
  @IsTenant()
  tenant!: string;

  @IsUUID()
  reservationId!: string;

  /** The node of each replica (a node running two replicas appears twice). */
  @ReplicaNodes()
  nodes!: string[];
}

export interface CaptureResult {
  /** Credits taken from the reservation: its total for a deploy, 0 for an update. */
  captured: string;
  /** For an update: the guarantee returned to the tenant's spendable balance. */
  released?: string;
}

export const CaptureReservation = defineCommand<CaptureReservationV1, CaptureResult>({
  service: 'billing',
  name: 'reservation.capture',
  payload: CaptureReservationV1,
  description:
    'A deploy succeeded: pays the reservation to the platform’s commission and the nodes’ earnings (cost split evenly over `nodes`, the remainder to the first) and starts metering the app one period from now. ' +
    'For an `update` reservation it instead returns the guarantee to the tenant and meters the app’s new shape from the next period. Idempotent; ILLEGAL_STATE once released.',
});

export * from './shared.js';
export * from './top-up-credits.command.js';
export * from './get-account.command.js';
export * from './get-ledger.command.js';
export * from './reserve-credits.command.js';
export * from './convert-credits.command.js';
export * from './capture-reservation.command.js';
export * from './release-reservation.command.js';
export * from './update-meter.command.js';
export * from './stop-meter.command.js';
export * from './credits-topped-up.v1.js';
export * from './credits-reserved.v1.js';
export * from './credits-converted.v1.js';
export * from './reservation-captured.v1.js';
export * from './reservation-released.v1.js';
export * from './usage-charged.v1.js';
export * from './balance-low.v1.js';
export * from './balance-exhausted.v1.js';
export * from './app-suspension-requested.v1.js';
export * from './app-suspension-confirmed.v1.js';
export * from './meter-started.v1.js';
export * from './meter-updated.v1.js';
export * from './meter-stopped.v1.js';

import { AppSuspensionConfirmed } from './app-suspension-confirmed.v1.js';
import { AppSuspensionRequested } from './app-suspension-requested.v1.js';
import { BalanceExhausted } from './balance-exhausted.v1.js';
import { BalanceLow } from './balance-low.v1.js';
import { CaptureReservation } from './capture-reservation.command.js';
import { ConvertCredits } from './convert-credits.command.js';
import { CreditsConverted } from './credits-converted.v1.js';
import { CreditsReserved } from './credits-reserved.v1.js';
import { CreditsToppedUp } from './credits-topped-up.v1.js';
import { GetAccount } from './get-account.command.js';
import { GetLedger } from './get-ledger.command.js';
import { MeterStarted } from './meter-started.v1.js';
import { MeterStopped } from './meter-stopped.v1.js';
import { MeterUpdated } from './meter-updated.v1.js';
import { ReleaseReservation } from './release-reservation.command.js';
import { ReservationCaptured } from './reservation-captured.v1.js';
import { ReservationReleased } from './reservation-released.v1.js';
import { ReserveCredits } from './reserve-credits.command.js';
import { StopMeter } from './stop-meter.command.js';
import { TopUpCredits } from './top-up-credits.command.js';
import { UpdateMeter } from './update-meter.command.js';
import { UsageCharged } from './usage-charged.v1.js';
import { stateAtOf } from '../platform/state-at.command.js';

/** Every contract of the billing service. */
export const billingContracts = [
  stateAtOf.billing,
  CreditsToppedUp,
  CreditsReserved,
  CreditsConverted,
  ReservationCaptured,
  ReservationReleased,
  UsageCharged,
  BalanceLow,
  BalanceExhausted,
  AppSuspensionRequested,
  AppSuspensionConfirmed,
  MeterStarted,
  MeterUpdated,
  MeterStopped,
  TopUpCredits,
  GetAccount,
  GetLedger,
  ReserveCredits,
  ConvertCredits,
  CaptureReservation,
  ReleaseReservation,
  UpdateMeter,
  StopMeter,
];

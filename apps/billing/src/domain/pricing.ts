import type { BilledResourcesV1 } from '@mycelium/contracts';
import { amountText, money, round } from './money.js';

/** What resources cost, in credits per hour, and the platform's commission on it. */
export interface RateCard {
  cpuHour: string;
  memoryGiBHour: string;
  storageGiBHour: string;
  commissionPercent: string;
}

export const DEFAULT_RATE_CARD: RateCard = { cpuHour: '0.02', memoryGiBHour: '0.005', storageGiBHour: '0.0002', commissionPercent: '10' };

/** An app's shape as billing prices it. */
export interface BilledShape {
  replicas: number;
  resources: BilledResourcesV1;
}

export interface PeriodPrice {
  /** The node owners' share. */
  cost: string;
  commission: string;
  total: string;
}

/**
 * What one period of `shape` costs: replicas × (cpu × cpuHour + memoryMiB/1024 × memoryGiBHour +
 * storageGiB × storageGiBHour) × periodSeconds/3600, and the commission on that; each rounded to
 * 8 decimals half-up, the commission from the rounded cost so that total = cost + commission exactly.
 */
export function priceOfPeriod(rates: RateCard, shape: BilledShape, periodSeconds: number): PeriodPrice {
  const { cpu, memoryMiB, storageGiB } = shape.resources;
  const perReplicaHour = money(cpu)
    .times(rates.cpuHour)
    .plus(money(memoryMiB).dividedBy(1024).times(rates.memoryGiBHour))
    .plus(money(storageGiB).times(rates.storageGiBHour));
  const cost = round(perReplicaHour.times(shape.replicas).times(periodSeconds).dividedBy(3600));
  const commission = round(cost.times(rates.commissionPercent).dividedBy(100));
  return { cost: amountText(cost), commission: amountText(commission), total: amountText(cost.plus(commission)) };
}

/** A price of `periodMsFrom` scaled to a period of `periodMsTo` (a meter keeps the period it started with). */
export function rescale(price: { cost: string; commission: string }, periodMsFrom: number, periodMsTo: number): { cost: string; commission: string } {
  if (periodMsFrom === periodMsTo) return { cost: price.cost, commission: price.commission };
  const factor = money(periodMsTo).dividedBy(periodMsFrom);
  return { cost: amountText(money(price.cost).times(factor)), commission: amountText(money(price.commission).times(factor)) };
}

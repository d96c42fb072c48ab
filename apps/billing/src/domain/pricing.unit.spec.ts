import { describe, expect, it } from 'vitest';
import { DEFAULT_RATE_CARD, priceOfPeriod, rescale } from './pricing.js';

describe('the price of a period', () => {
  it('is replicas × (cpu × cpuHour + memoryGiB × memoryGiBHour + storageGiB × storageGiBHour) × hours, plus commission', () => {
    // per replica-hour: 0.5 × 0.02 + 0.5 × 0.005 + 10 × 0.0002 = 0.0145; two replicas for a minute: 0.00048333…
    const price = priceOfPeriod(DEFAULT_RATE_CARD, { replicas: 2, resources: { cpu: 0.5, memoryMiB: 512, storageGiB: 10 } }, 60);
    expect(price).toEqual({ cost: '0.00048333', commission: '0.00004833', total: '0.00053166' });
  });

  it('prices an hour of one core and a GiB at the rate card', () => {
    const price = priceOfPeriod(DEFAULT_RATE_CARD, { replicas: 1, resources: { cpu: 1, memoryMiB: 1024, storageGiB: 0 } }, 3600);
    expect(price).toEqual({ cost: '0.025', commission: '0.0025', total: '0.0275' });
  });

  it('rounds half-up at the 8th decimal, and takes the commission from the rounded cost', () => {
    // 1 core at 0.000000045/hour for an hour: 0.000000045 → 0.00000005; 10% of that is 0.000000005 → 0.00000001.
    const rates = { cpuHour: '0.000000045', memoryGiBHour: '0', storageGiBHour: '0', commissionPercent: '10' };
    expect(priceOfPeriod(rates, { replicas: 1, resources: { cpu: 1, memoryMiB: 0, storageGiB: 0 } }, 3600)).toEqual({
      cost: '0.00000005',
      commission: '0.00000001',
      total: '0.00000006',
    });
  });

  it('takes fractional cores exactly, where floats round the wrong way', () => {
    const rates = { cpuHour: '0.00000005', memoryGiBHour: '0', storageGiBHour: '0', commissionPercent: '0' };
    // 0.3 × 0.00000005 = 0.000000015, which rounds half-up to 0.00000002; as floats, (0.3 * 5e-8).toFixed(8) is 0.00000001.
    expect(priceOfPeriod(rates, { replicas: 1, resources: { cpu: 0.3, memoryMiB: 0, storageGiB: 0 } }, 3600).cost).toBe('0.00000002');
    // 3 replicas × 0.3 cores × 0.1 for 0.3 s: 0.0000075 exactly.
    expect(priceOfPeriod({ ...rates, cpuHour: '0.1' }, { replicas: 3, resources: { cpu: 0.3, memoryMiB: 0, storageGiB: 0 } }, 0.3).cost).toBe('0.0000075');
  });

  it('scales a price to another period length', () => {
    expect(rescale({ cost: '0.001', commission: '0.0001' }, 60_000, 30_000)).toEqual({ cost: '0.0005', commission: '0.00005' });
    expect(rescale({ cost: '0.001', commission: '0.0001' }, 60_000, 60_000)).toEqual({ cost: '0.001', commission: '0.0001' });
  });
});

import { describe, expect, it } from 'vitest';
import { ownTimers, SharedTicks, type Ticks } from './shared-ticks.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Which turn of the event loop each call ran in: a turn ends when its microtasks run. */
function turns() {
  let turn = 0;
  let ending = false;
  return () => {
    if (!ending) {
      ending = true;
      queueMicrotask(() => {
        turn += 1;
        ending = false;
      });
    }
    return turn;
  };
}

async function until(done: () => boolean) {
  while (!done()) await sleep(5);
}

async function twoPeriodics(ticks: Ticks) {
  const turnOf = turns();
  const a: number[] = [];
  const b: number[] = [];
  // Registered within one millisecond, so both are due at the same moment.
  let stopA: () => void;
  let stopB: () => void;
  for (;;) {
    const registeredAt = Date.now();
    stopA = ticks.every(20, () => a.push(turnOf()));
    stopB = ticks.every(20, () => b.push(turnOf()));
    if (Date.now() === registeredAt) break;
    stopA();
    stopB();
  }
  await until(() => a.length >= 3 && b.length >= 3);
  stopA();
  stopB();
  return { a: a.slice(0, 3), b: b.slice(0, 3) };
}

describe('shared ticks', () => {
  it('runs callbacks due together in one turn of the event loop, so what they publish leaves in one write', async () => {
    const { a, b } = await twoPeriodics(new SharedTicks(5));
    expect(b).toEqual(a);
    // Own timers give each callback a turn of its own.
    const own = await twoPeriodics(ownTimers);
    expect(own.a.some((turn, index) => turn === own.b[index])).toBe(false);
  });

  it('stops a callback when asked, and after a stall beats again an interval later, not once per missed interval', async () => {
    const ticks = new SharedTicks(2);
    let stopped = 0;
    const kept: number[] = [];
    const stop = ticks.every(20, () => (stopped += 1));
    const keep = ticks.every(20, () => kept.push(performance.now()));
    await until(() => stopped >= 1 && kept.length >= 1);
    stop();
    const atStop = stopped;
    const busyUntil = Date.now() + 100;
    while (Date.now() < busyUntil); // five intervals without a turn
    const beforeStall = kept.length;
    await until(() => kept.length >= beforeStall + 2);
    keep();
    expect(stopped).toBe(atStop);
    const [first, second] = kept.slice(beforeStall);
    expect(second! - first!).toBeGreaterThanOrEqual(19);
  });
});

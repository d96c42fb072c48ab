import { describe, expect, it } from 'vitest';
import { recently } from './recently.js';

describe('recently', () => {
  it('shares one answer among the callers within its age, then asks again', async () => {
    let time = 0;
    let asked = 0;
    const nodes = recently(500, async () => `answer ${++asked}`, () => time);
    expect(await Promise.all([nodes(), nodes(), nodes()])).toEqual(['answer 1', 'answer 1', 'answer 1']);
    time = 500;
    expect(await nodes()).toBe('answer 1');
    time = 501;
    expect(await nodes()).toBe('answer 2');
    expect(asked).toBe(2);
  });

  it('keeps no failed answer: the next caller asks again', async () => {
    let asked = 0;
    const flaky = recently(60_000, async () => {
      asked += 1;
      if (asked === 1) throw new Error('spores is restarting');
      return 'nodes';
    });
    await expect(flaky()).rejects.toThrow('spores is restarting');
    expect(await flaky()).toBe('nodes');
    expect(await flaky()).toBe('nodes');
    expect(asked).toBe(2);
  });
});

import { randomBytes } from 'node:crypto';

/**
 * mulberry32: a small, fast generator in [0, 1) for choices that need spread, not secrecy (which
 * replica to explore). Seeded, so a test or a benchmark replays the same choices; by default the
 * seed comes from the operating system's randomness.
 */
export function seededRandom(seed: number = randomBytes(4).readUInt32LE(0)): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

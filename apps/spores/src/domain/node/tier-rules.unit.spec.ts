import { describe, expect, it } from 'vitest';
import type { KnownNode } from './node.js';
import { DEFAULT_TIER_RULES, initialTier, nextTier, sclerotiumKind } from './tier-rules.js';

const joinedAt = '2026-11-20T10:00:00.000Z';
const now = new Date('2026-11-23T10:00:00.000Z');

const node = (overrides: Partial<KnownNode> = {}): KnownNode => ({
  status: 'alive',
  nodeId: '0123456789abcdef0123',
  publicKey: 'A'.repeat(43),
  network: 'net-1',
  maxTier: 'sclerotia',
  requestedTier: 'sclerotia',
  tier: 'rhizomorph',
  capabilities: { cpuCores: 8, memoryMiB: 16384, diskGiB: 500, region: 'eu-west', tags: [], agentVersion: '0.1.0' },
  trust: 0.8,
  joinedAt,
  statusSince: joinedAt,
  availability: [{ at: joinedAt, up: true }],
  ...overrides,
});

describe('tier rules', () => {
  describe('when a node joins', () => {
    it('starts as a rhizomorph when it offers the resources', () => {
      expect(initialTier(node(), DEFAULT_TIER_RULES).tier).toBe('rhizomorph');
    });
    it('starts as a hypha when it asks to', () => {
      expect(initialTier(node({ requestedTier: 'hyphae' }), DEFAULT_TIER_RULES)).toEqual({ tier: 'hyphae', reason: expect.stringMatching(/hyphae/) });
    });
  });

  describe('when a rhizomorph has been up a day', () => {
    it('promotes it to sclerotia at 99% uptime with trust and resources', () => {
      expect(nextTier(node(), 99.5, now, DEFAULT_TIER_RULES)).toEqual({ tier: 'sclerotia', reason: expect.stringMatching(/uptime 99.5%/) });
    });
    it('keeps it at 98% uptime', () => {
      expect(nextTier(node(), 98, now, DEFAULT_TIER_RULES)).toBeUndefined();
    });
    it('keeps it when its token allows only rhizomorph', () => {
      expect(nextTier(node({ maxTier: 'rhizomorph' }), 100, now, DEFAULT_TIER_RULES)).toBeUndefined();
    });
    it('keeps it when it joined less than a day ago', () => {
      expect(nextTier(node({ joinedAt: '2026-11-23T09:00:00.000Z' }), 100, now, DEFAULT_TIER_RULES)).toBeUndefined();
    });
    it('demotes it to hyphae when its trust collapses', () => {
      expect(nextTier(node({ trust: 0.05 }), 100, now, DEFAULT_TIER_RULES)).toEqual({ tier: 'hyphae', reason: expect.stringMatching(/trust 0.05/) });
    });
  });

  describe('when a node is a sclerotium', () => {
    it('demotes it below 95% uptime, and not at 96% (no flapping at the promotion threshold)', () => {
      expect(nextTier(node({ tier: 'sclerotia' }), 94, now, DEFAULT_TIER_RULES)).toEqual({ tier: 'rhizomorph', reason: expect.stringMatching(/94%/) });
      expect(nextTier(node({ tier: 'sclerotia' }), 96, now, DEFAULT_TIER_RULES)).toBeUndefined();
    });
  });

  describe('when a node is a sclerotium, by kind', () => {
    it('is dedicated when tagged so and always up, dynamic otherwise; other tiers have no kind', () => {
      const tagged = node({ tier: 'sclerotia', capabilities: { ...node().capabilities, tags: ['dedicated'] } });
      expect(sclerotiumKind(tagged, 99.95)).toBe('dedicated');
      expect(sclerotiumKind(tagged, 99.5)).toBe('dynamic');
      expect(sclerotiumKind(node({ tier: 'sclerotia' }), 100)).toBe('dynamic');
      expect(sclerotiumKind(node(), 100)).toBeUndefined();
    });
  });

  describe('when a hypha grows', () => {
    it('promotes it to rhizomorph once it offers enough and is trusted', () => {
      expect(nextTier(node({ tier: 'hyphae' }), 100, now, DEFAULT_TIER_RULES)?.tier).toBe('rhizomorph');
      expect(nextTier(node({ tier: 'hyphae', capabilities: { cpuCores: 0, memoryMiB: 0, diskGiB: 0, region: 'x', tags: [], agentVersion: '1' } }), 100, now, DEFAULT_TIER_RULES)).toBeUndefined();
    });
  });
});

import { networkChangeSubject } from '@mycelium/contracts/consensus';
import { describe, expect, it } from 'vitest';
import { meetsVersion, networkChangeVote } from './network-vote.js';

const round = (subject: string) => ({
  roundId: '6f1d0c2a-9b3e-4f50-8a1b-2c3d4e5f6a7b',
  topic: 'network-change',
  question: 'Raise the minimum agent version?',
  subject,
  options: ['approve', 'reject'],
  commitDeadline: '2026-01-01T00:00:01.000Z',
  revealDeadline: '2026-01-01T00:00:02.000Z',
});

describe('a node’s vote on a network-wide change', () => {
  it('approves a minimum agent version it meets and rejects one that would lock it out', () => {
    const vote = networkChangeVote('0.2.1');
    expect(vote(round(networkChangeSubject('min-agent-version', '0.2.0')))).toBe('approve');
    expect(vote(round(networkChangeSubject('min-agent-version', '0.2.1')))).toBe('approve');
    expect(vote(round(networkChangeSubject('min-agent-version', '0.3.0')))).toBe('reject');
  });

  it('abstains from a change it does not know or cannot read', () => {
    const vote = networkChangeVote('0.2.1');
    expect(vote(round('max-replicas=9'))).toBeUndefined();
    expect(vote(round('min-agent-version=soon'))).toBeUndefined();
    expect(vote(round('min-agent-version=0.1.0=0.2.0'))).toBeUndefined();
  });

  it('reads versions with a prefix or a pre-release, and an unreadable one meets nothing', () => {
    expect(meetsVersion('sim-0.1.0', '0.1.0')).toBe(true);
    expect(meetsVersion('v1.2.3', '1.2.0')).toBe(true);
    expect(meetsVersion('0.1.9', '0.2.0')).toBe(false);
    expect(meetsVersion('unknown', '0.1.0')).toBe(false);
  });
});

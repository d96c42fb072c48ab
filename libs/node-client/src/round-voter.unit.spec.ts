import { commitmentOf, ConsensusSubjects } from '@mycelium/contracts/consensus';
import { openEnvelope } from '@mycelium/identity';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { newNodeIdentity } from './node-identity.js';
import { parseInvitation, RoundVoter } from './round-voter.js';

const NOW = Date.parse('2025-01-01T00:00:00.000Z');
const invitation = (overrides: Record<string, unknown> = {}) => ({
  roundId: '6f1d0c2a-9b3e-4f50-8a1b-2c3d4e5f6a7b',
  topic: 'node-liveness',
  question: 'Is node 0123456789abcdef0123 down?',
  subject: '0123456789abcdef0123',
  options: ['up', 'down'],
  commitDeadline: new Date(NOW + 400).toISOString(),
  revealDeadline: new Date(NOW + 1000).toISOString(),
  ...overrides,
});

describe('a round voter', () => {
  const identity = newNodeIdentity();
  let sent: { subject: string; payload: Record<string, unknown> }[];
  const voter = (vote: string | undefined) =>
    new RoundVoter({
      nodeId: identity.nodeId,
      signer: identity.signer,
      publish: (subject, body) => sent.push({ subject, payload: openEnvelope(JSON.parse(body), identity.publicKey) }),
      judge: () => vote,
    });

  beforeEach(() => {
    sent = [];
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => vi.useRealTimers());

  it('commits at once, signed on its own subject, and reveals a third of the reveal window after the commit deadline', async () => {
    expect(await voter('down').invited(invitation())).toBe('committed');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toBe(ConsensusSubjects.commit(identity.nodeId));
    expect(sent[0]!.payload).toMatchObject({ kind: 'consensus-commit', nodeId: identity.nodeId, roundId: invitation().roundId });

    vi.advanceTimersByTime(400 + 199);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(2);
    const reveal = sent[1]!;
    expect(reveal.subject).toBe(ConsensusSubjects.reveal(identity.nodeId));
    expect(reveal.payload).toMatchObject({ kind: 'consensus-reveal', vote: 'down' });
    expect(commitmentOf('down', reveal.payload.salt as string)).toBe(sent[0]!.payload.commitment);
    expect((reveal.payload.salt as string).length).toBe(64);
  });

  it('answers a repeated invitation once', async () => {
    const once = voter('up');
    await once.invited(invitation());
    expect(await once.invited(invitation())).toBe('ignored');
    vi.advanceTimersByTime(2000);
    expect(sent.map((message) => message.payload.kind)).toEqual(['consensus-commit', 'consensus-reveal']);
  });

  it('abstains when it has no vote, the vote is not an option, or the commit deadline has passed', async () => {
    expect(await voter(undefined).invited(invitation())).toBe('abstained');
    expect(await voter('maybe').invited(invitation())).toBe('abstained');
    expect(await voter('down').invited(invitation({ commitDeadline: new Date(NOW - 1).toISOString() }))).toBe('abstained');
    expect(sent).toEqual([]);
  });

  it('ignores a malformed invitation', async () => {
    expect(await voter('down').invited({ roundId: 'r', topic: 'node-liveness' })).toBe('ignored');
    expect(await voter('down').invited(invitation({ commitDeadline: 'soon' }))).toBe('ignored');
    expect(sent).toEqual([]);
  });

  it('once stopped, reveals nothing it committed and answers no new round', async () => {
    const dying = voter('down');
    await dying.invited(invitation());
    dying.stop();
    vi.advanceTimersByTime(2000);
    expect(await dying.invited(invitation({ roundId: '7f1d0c2a-9b3e-4f50-8a1b-2c3d4e5f6a7b' }))).toBe('ignored');
    expect(sent.map((message) => message.payload.kind)).toEqual(['consensus-commit']);
  });

  it('takes a complete invitation as it is, and refuses a suspect whose address is not text', () => {
    const complete = invitation({ suspect: { nodeId: invitation().subject, gossipAddress: 'http://127.0.0.1:7946' } });
    expect(parseInvitation(complete)).toEqual(complete);
    expect(parseInvitation({ ...complete, options: 'up,down' })).toBeUndefined();
    expect(parseInvitation({ ...complete, suspect: { nodeId: complete.subject, gossipAddress: 7946 } })).toBeUndefined();
    expect(parseInvitation(null)).toBeUndefined();
  });
});

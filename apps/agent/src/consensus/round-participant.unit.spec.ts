import { describe, expect, it } from 'vitest';
import { parseInvitation } from './round-participant.js';

const invitation = {
  roundId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  topic: 'node-liveness',
  question: 'Is node 00000000000000000001 down?',
  subject: '00000000000000000001',
  options: ['up', 'down'],
  commitDeadline: '2026-01-01T00:00:01.000Z',
  revealDeadline: '2026-01-01T00:00:02.000Z',
  suspect: { nodeId: '00000000000000000001', gossipAddress: 'http://127.0.0.1:7946' },
};

describe('round invitation', () => {
  it('takes a complete invitation as it is', () => {
    expect(parseInvitation(invitation)).toEqual(invitation);
  });

  it('ignores one without usable deadlines, options or suspect address', () => {
    expect(parseInvitation({ ...invitation, commitDeadline: 'soon' })).toBeUndefined();
    expect(parseInvitation({ ...invitation, options: 'up,down' })).toBeUndefined();
    expect(parseInvitation({ ...invitation, suspect: { nodeId: invitation.subject, gossipAddress: 7946 } })).toBeUndefined();
    expect(parseInvitation(null)).toBeUndefined();
  });
});

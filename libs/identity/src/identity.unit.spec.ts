import { describe, expect, it } from 'vitest';
import { newNonce, openEnvelope, peekEnvelope, sealEnvelope } from './envelope.js';
import { IdentityRejection } from './errors.js';
import { issueJoinToken, verifyJoinToken } from './join-token.js';
import { issueMembership, verifyMembership } from './membership.js';
import { generateKeyMaterial, networkIdOf, nodeIdOf, Signer, verifySignature } from './keys.js';
import { ReplayGuard } from './replay-guard.js';

const signerOf = () => Signer.fromPem(generateKeyMaterial().privateKeyPem);
const rejectionOf = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    if (error instanceof IdentityRejection) return error.code;
    throw error;
  }
  throw new Error('expected a rejection');
};

describe('keys', () => {
  it('signs and verifies; a changed byte or another key fails', () => {
    const signer = signerOf();
    const data = Buffer.from('heartbeat 42');
    const signature = signer.sign(data);
    expect(verifySignature(signer.publicKey, data, signature)).toBe(true);
    expect(verifySignature(signer.publicKey, Buffer.from('heartbeat 43'), signature)).toBe(false);
    expect(verifySignature(signerOf().publicKey, data, signature)).toBe(false);
    expect(verifySignature('not-a-key', data, signature)).toBe(false);
  });

  it('derives node and network ids from the public key', () => {
    const { publicKey } = generateKeyMaterial();
    expect(nodeIdOf(publicKey)).toMatch(/^[0-9a-f]{20}$/);
    expect(nodeIdOf(publicKey)).toBe(nodeIdOf(publicKey));
    expect(networkIdOf(publicKey)).toMatch(/^net-[0-9a-f]{16}$/);
  });
});

describe('signed envelopes', () => {
  it('opens what was sealed, with the sender’s key only', () => {
    const signer = signerOf();
    const envelope = sealEnvelope(signer, { kind: 'heartbeat', seq: 7 }, { includeKey: true });
    expect(envelope.pub).toBe(signer.publicKey);
    expect(openEnvelope(envelope, signer.publicKey)).toEqual({ kind: 'heartbeat', seq: 7 });
    expect(rejectionOf(() => openEnvelope(envelope, signerOf().publicKey))).toBe('BAD_SIGNATURE');
  });

  it('refuses a payload changed after signing', () => {
    const signer = signerOf();
    const envelope = sealEnvelope(signer, { kind: 'heartbeat', seq: 7 });
    const tampered = { ...envelope, payload: Buffer.from(JSON.stringify({ kind: 'heartbeat', seq: 8 })).toString('base64url') };
    expect(rejectionOf(() => openEnvelope(tampered, signer.publicKey))).toBe('BAD_SIGNATURE');
    expect(peekEnvelope(tampered)).toMatchObject({ seq: 8 });
  });

  it.each([null, 'text', { payload: 1, sig: 'x' }, { payload: Buffer.from('[1]').toString('base64url'), sig: 'x' }])(
    'calls %j malformed',
    (envelope) => {
      expect(rejectionOf(() => peekEnvelope(envelope))).toBe('MALFORMED');
    },
  );
});

describe('replay guard', () => {
  it('accepts a fresh message once, refuses it again and refuses stale or future ones', () => {
    const guard = new ReplayGuard(30_000);
    const now = Date.now();
    const nonce = newNonce();
    guard.check('node-a', now - 1000, nonce, now);
    expect(rejectionOf(() => guard.check('node-a', now - 1000, nonce, now))).toBe('REPLAY');
    guard.check('node-b', now, nonce, now);
    expect(rejectionOf(() => guard.check('node-a', now - 31_000, newNonce(), now))).toBe('STALE_TIMESTAMP');
    expect(rejectionOf(() => guard.check('node-a', now + 31_000, newNonce(), now))).toBe('STALE_TIMESTAMP');
    expect(rejectionOf(() => guard.check('node-a', 'yesterday', newNonce(), now))).toBe('MALFORMED');
  });

  it('forgets nonces once their timestamps could no longer be accepted', () => {
    const guard = new ReplayGuard(1000);
    const start = 1_000_000;
    for (let i = 0; i < 100; i += 1) guard.check('n', start, newNonce(), start);
    guard.check('n', start + 5000, newNonce(), start + 5000);
    expect(guard.size).toBe(1);
  });
});

describe('join tokens', () => {
  const network = signerOf();
  const id = networkIdOf(network.publicKey);
  const now = new Date('2026-11-23T10:00:00Z');

  it('verifies a token of this network before it expires', () => {
    const { token } = issueJoinToken(network, { tier: 'rhizomorph', ttlSeconds: 3600, now });
    expect(verifyJoinToken(token, { id, publicKey: network.publicKey }, now)).toMatchObject({ iss: id, tier: 'rhizomorph', netkey: network.publicKey });
  });

  it('says a token is expired, forged, or for another network', () => {
    const { token } = issueJoinToken(network, { tier: 'rhizomorph', ttlSeconds: 60, now });
    const later = new Date(now.getTime() + 61_000);
    expect(rejectionOf(() => verifyJoinToken(token, { id, publicKey: network.publicKey }, later))).toBe('EXPIRED_TOKEN');

    const [header, , signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    const raised = Buffer.from(JSON.stringify({ ...claims, tier: 'sclerotia' })).toString('base64url');
    expect(rejectionOf(() => verifyJoinToken(`${header}.${raised}.${signature}`, { id, publicKey: network.publicKey }, now))).toBe('FORGED_TOKEN');

    const other = signerOf();
    const { token: foreign } = issueJoinToken(other, { tier: 'hyphae', ttlSeconds: 60, now });
    expect(rejectionOf(() => verifyJoinToken(foreign, { id, publicKey: network.publicKey }, now))).toBe('WRONG_NETWORK');
    expect(rejectionOf(() => verifyJoinToken('abc', { id, publicKey: network.publicKey }, now))).toBe('MALFORMED');
  });
});

describe('membership certificates', () => {
  const networkSigner = signerOf();
  const network = { id: networkIdOf(networkSigner.publicKey), publicKey: networkSigner.publicKey };
  const member = signerOf();

  it('names the member’s key and node id under the network’s signature', () => {
    const certificate = verifyMembership(issueMembership(networkSigner, { network: network.id, publicKey: member.publicKey, now: 5 }), network, member.publicKey);
    expect(certificate).toEqual({ kind: 'membership', network: network.id, nodeId: nodeIdOf(member.publicKey), publicKey: member.publicKey, issuedAt: 5 });
  });

  it('refuses one signed by another key, for another network or for another member', () => {
    const stranger = signerOf();
    const selfIssued = issueMembership(stranger, { network: network.id, publicKey: stranger.publicKey });
    expect(() => verifyMembership(selfIssued, network)).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
    const elsewhere = issueMembership(networkSigner, { network: 'net-other', publicKey: member.publicKey });
    expect(() => verifyMembership(elsewhere, network)).toThrow(expect.objectContaining({ code: 'WRONG_NETWORK' }));
    const othersCertificate = issueMembership(networkSigner, { network: network.id, publicKey: member.publicKey });
    expect(() => verifyMembership(othersCertificate, network, stranger.publicKey)).toThrow(expect.objectContaining({ code: 'NODE_ID_MISMATCH' }));
  });
});

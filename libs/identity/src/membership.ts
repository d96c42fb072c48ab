import { IdentityRejection } from './errors.js';
import { openEnvelope, sealEnvelope, type SignedEnvelope } from './envelope.js';
import { nodeIdOf, type Signer } from './keys.js';

/**
 * The network's word that a key belongs to a member: signed by the network key when a node joins,
 * carried by the node in gossip so peers can drop records of keys the network never admitted.
 */
export interface MembershipCertificate {
  kind: 'membership';
  network: string;
  nodeId: string;
  publicKey: string;
  issuedAt: number;
}

export function issueMembership(networkSigner: Signer, member: { network: string; publicKey: string; now?: number }): SignedEnvelope {
  const certificate: MembershipCertificate = {
    kind: 'membership',
    network: member.network,
    nodeId: nodeIdOf(member.publicKey),
    publicKey: member.publicKey,
    issuedAt: member.now ?? Date.now(),
  };
  return sealEnvelope(networkSigner, certificate);
}

/** The certificate after checking it is the network's and, when given, that it names `publicKey`. */
export function verifyMembership(envelope: unknown, network: { id: string; publicKey: string }, publicKey?: string): MembershipCertificate {
  const certificate = openEnvelope<Partial<MembershipCertificate>>(envelope, network.publicKey);
  if (certificate.kind !== 'membership' || typeof certificate.publicKey !== 'string' || typeof certificate.issuedAt !== 'number') {
    throw new IdentityRejection('MALFORMED', 'not a membership certificate');
  }
  if (certificate.network !== network.id) throw new IdentityRejection('WRONG_NETWORK', `the certificate is for network ${String(certificate.network)}`);
  if (certificate.nodeId !== nodeIdOf(certificate.publicKey)) throw new IdentityRejection('NODE_ID_MISMATCH', 'the certificate’s node id is not its key’s');
  if (publicKey !== undefined && certificate.publicKey !== publicKey) {
    throw new IdentityRejection('NODE_ID_MISMATCH', 'the certificate belongs to another key');
  }
  return certificate as MembershipCertificate;
}

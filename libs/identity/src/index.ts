export { fromBase64Url, toBase64Url } from './encoding.js';
export { IdentityRejection, type IdentityRejectionCode } from './errors.js';
export { generateKeyMaterial, type KeyMaterial, networkIdOf, nodeIdOf, Signer, verifySignature } from './keys.js';
export { issueMembership, type MembershipCertificate, verifyMembership } from './membership.js';
export { newNonce, openEnvelope, peekEnvelope, sealEnvelope, type SignedEnvelope } from './envelope.js';
export { ReplayGuard } from './replay-guard.js';
export { isNodeTier, NODE_TIERS, type NodeTier, TIER_RANK } from './tiers.js';
export { issueJoinToken, type JoinTokenClaims, readJoinToken, verifyJoinToken } from './join-token.js';
export { readJson, writeFileAtomically, writeSecretFile } from './files.js';
export {
  agentInboxPrefix,
  agentPermissions,
  bootstrapInboxPrefix,
  bootstrapPermissions,
  createNatsAuthority,
  credsFor,
  NatsAuthority,
  type NatsAuthorityPublic,
  type NatsAuthoritySeeds,
  newNatsUserKey,
  type UserPermissions,
} from './nats-authority.js';
export { initNetwork, loadNetwork, type Network, NetworkExistsError, networkExists, type NetworkInfo, NoNetworkError } from './network.js';
export { loadOrCreateSecretBox, SecretBox } from './secret-box.js';

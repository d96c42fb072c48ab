export { loadOrCreateNodeIdentity, type NodeIdentity, newNodeIdentity } from './node-identity.js';
export { heartbeatMessage, joinMessage, leaveMessage } from './messages.js';
export { GridLink, JoinRefused } from './grid-link.js';
export { VirtualNode, type VirtualNodeOptions } from './virtual-node.js';
export { SharedTicks, type Ticks } from './shared-ticks.js';
export { readSeedSnapshot, SEED_MAX_AGE_MS, type SeedReadOptions, SeedRejected } from './seed.js';
export { type Authority, GossipExchangeFailed, GossipNode, type GossipOptions, MAX_CLOCK_SKEW_MS, MAX_DIGEST_RECORDS, type ViewEntry } from './gossip.js';
export { type Judge, parseInvitation, RoundVoter, type RoundVoterOptions, type VoterLog } from './round-voter.js';
export { meetsVersion, networkChangeVote, releaseOf } from './network-vote.js';

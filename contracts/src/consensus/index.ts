export * from './open-round.command.js';
export * from './round-events.v1.js';
export * from './trust-changed.v1.js';
export * from './get-round.command.js';
export * from './get-trust.command.js';
export * from './agent-protocol.js';

import { GetRound } from './get-round.command.js';
import { GetTrust } from './get-trust.command.js';
import { OpenRound } from './open-round.command.js';
import { RoundClosed, RoundOpened, VoteCommitted, VoteRevealed } from './round-events.v1.js';
import { TrustChanged } from './trust-changed.v1.js';
import { stateAtOf } from '../platform/state-at.command.js';

/** Every contract of the consensus service. */
export const consensusContracts = [stateAtOf.consensus, RoundOpened, VoteCommitted, VoteRevealed, RoundClosed, TrustChanged, OpenRound, GetRound, GetTrust];

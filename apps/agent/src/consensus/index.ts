export { DEFAULT_PROBE, probeLiveness, type ProbeOptions } from './liveness-probe.js';
export { RoundParticipant, type RoundParticipantOptions, type VoteRule } from './round-participant.js';

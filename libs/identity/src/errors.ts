/**
 * Why an identity check failed. The codes are stable: agents, operators and security events use
 * them; the messages say what to do about it.
 */
export type IdentityRejectionCode =
  | 'MALFORMED'
  | 'BAD_SIGNATURE'
  | 'FORGED_TOKEN'
  | 'EXPIRED_TOKEN'
  | 'WRONG_NETWORK'
  | 'STALE_TIMESTAMP'
  | 'REPLAY'
  | 'NODE_ID_MISMATCH';

export class IdentityRejection extends Error {
  constructor(
    readonly code: IdentityRejectionCode,
    message: string,
  ) {
    super(message);
    this.name = 'IdentityRejection';
  }
}

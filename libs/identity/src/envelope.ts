import { randomBytes } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './encoding.js';
import { IdentityRejection } from './errors.js';
import { type Signer, verifySignature } from './keys.js';

/**
 * A signed message: the payload's exact bytes (base64url JSON) and the signature over them, so
 * verifying needs no canonical JSON. `pub` carries the signer's key where the receiver cannot know it yet.
 */
export interface SignedEnvelope {
  payload: string;
  sig: string;
  pub?: string;
}

export function sealEnvelope(signer: Signer, payload: object, options: { includeKey?: boolean } = {}): SignedEnvelope {
  const bytes = Buffer.from(JSON.stringify(payload));
  return {
    payload: toBase64Url(bytes),
    sig: signer.sign(bytes),
    ...(options.includeKey ? { pub: signer.publicKey } : {}),
  };
}

/** The payload of an envelope after checking its signature against `publicKey`. */
export function openEnvelope<Payload = Record<string, unknown>>(envelope: unknown, publicKey: string): Payload {
  const { payload, sig } = readEnvelope(envelope);
  const bytes = fromBase64Url(payload);
  if (!verifySignature(publicKey, bytes, sig)) {
    throw new IdentityRejection('BAD_SIGNATURE', 'the signature does not match the message and the sender’s key');
  }
  return parsePayload<Payload>(bytes);
}

/** The payload without checking the signature: only to find out which key to check it with. */
export function peekEnvelope<Payload = Record<string, unknown>>(envelope: unknown): Payload & { pub?: string } {
  const { payload, pub } = readEnvelope(envelope);
  return { ...parsePayload<Payload>(fromBase64Url(payload)), ...(pub ? { pub } : {}) };
}

function readEnvelope(envelope: unknown): SignedEnvelope {
  const candidate = envelope as Partial<SignedEnvelope> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.payload !== 'string' ||
    typeof candidate.sig !== 'string' ||
    (candidate.pub !== undefined && typeof candidate.pub !== 'string')
  ) {
    throw new IdentityRejection('MALFORMED', 'a signed message needs a base64url payload and sig');
  }
  return candidate as SignedEnvelope;
}

function parsePayload<Payload>(bytes: Buffer): Payload {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value as Payload;
  } catch {
    throw new IdentityRejection('MALFORMED', 'the signed payload is not a JSON object');
  }
}

/** A fresh nonce for a signed message. */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

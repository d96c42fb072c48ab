import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './encoding.js';

/** An Ed25519 key pair as stored: the raw public key (base64url) and the private key (PKCS#8 PEM). */
export interface KeyMaterial {
  publicKey: string;
  privateKeyPem: string;
}

export function generateKeyMaterial(): KeyMaterial {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: rawPublicKey(publicKey), privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

function rawPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (!jwk.x) throw new Error('not an Ed25519 key');
  return jwk.x;
}

/** Signs with an Ed25519 private key; knows its own public key. */
export class Signer {
  readonly #key: KeyObject;
  readonly publicKey: string;

  private constructor(key: KeyObject) {
    this.#key = key;
    this.publicKey = rawPublicKey(createPublicKey(key));
  }

  static fromPem(pem: string): Signer {
    return new Signer(createPrivateKey(pem));
  }

  sign(data: Uint8Array): string {
    return toBase64Url(sign(null, data, this.#key));
  }
}

const publicKeys = new Map<string, KeyObject>();

/** Checks an Ed25519 signature against a raw public key (base64url). Never throws for bad input. */
export function verifySignature(publicKey: string, data: Uint8Array, signature: string): boolean {
  try {
    let key = publicKeys.get(publicKey);
    if (!key) {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
      // Verifying a heartbeat should not parse the same key every second; bound the cache anyway.
      if (publicKeys.size > 100_000) publicKeys.clear();
      publicKeys.set(publicKey, key);
    }
    return verify(null, data, key, fromBase64Url(signature));
  } catch {
    return false;
  }
}

/** A node's id: the first 80 bits of the SHA-256 of its public key, in hex. It proves nothing alone; the key does. */
export function nodeIdOf(publicKey: string): string {
  return createHash('sha256').update(fromBase64Url(publicKey)).digest('hex').slice(0, 20);
}

/** A network's id, from its key the same way. */
export function networkIdOf(publicKey: string): string {
  return `net-${createHash('sha256').update(fromBase64Url(publicKey)).digest('hex').slice(0, 16)}`;
}

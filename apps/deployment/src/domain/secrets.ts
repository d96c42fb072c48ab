import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Secret environment values never enter the log in clear: they are sealed with AES-256-GCM under
 * the deployment service's key, and opened only to hand them to the node that runs the replica.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the secrets key must be 32 bytes (base64 of 32 random bytes in MYCELIUM_SECRETS_KEY)');
    this.#key = key;
  }

  static generateKey(): Buffer {
    return randomBytes(32);
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    // The context (app and variable) is authenticated, so a sealed value cannot be moved to another app.
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [iv, cipher.getAuthTag(), body].map((part) => part.toString('base64url')).join('.');
  }

  open(sealed: string, context: string): string {
    const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
    if (!iv || !tag || !body) throw new Error('a sealed value is malformed');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  }
}

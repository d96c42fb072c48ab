import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Values a service must be able to read back but that never enter the log in clear (an app's secret
 * environment, a tenant's webhook secret): sealed with AES-256-GCM under the service's key, bound to
 * a context (what the value belongs to), so a sealed value cannot be moved elsewhere.
 */
export class SecretBox {
  readonly #key: Buffer;

  /** `keyVariable` names where the key comes from, for the error a wrong key gets. */
  constructor(key: Buffer, keyVariable = 'the secrets key') {
    if (key.length !== 32) throw new Error(`${keyVariable} must be 32 bytes: base64 of 32 random bytes`);
    this.#key = key;
  }

  static generateKey(): Buffer {
    return randomBytes(32);
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
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

/**
 * A service's SecretBox: its key from `variable` (base64 of 32 bytes; every instance of the service
 * needs the same), or else made once in `file` (0600) and read from there ever after.
 */
export function loadOrCreateSecretBox(env: NodeJS.ProcessEnv, variable: string, file: string): SecretBox {
  const given = env[variable];
  if (given) return new SecretBox(Buffer.from(given, 'base64'), variable);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, `${SecretBox.generateKey().toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Another process made it first: use theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return new SecretBox(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'), variable);
}

/** base64url without padding, the encoding of keys, signatures and payloads on the wire. */
export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function fromBase64Url(text: string): Buffer {
  return Buffer.from(text, 'base64url');
}

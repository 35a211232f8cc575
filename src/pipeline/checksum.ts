import { createHash } from 'node:crypto';

/** sha256 (hex) of a file's bytes: what the history records and the drift check compares. */
export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

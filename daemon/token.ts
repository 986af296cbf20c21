/**
 * The pairing token: created at the first start, stored readable by the user alone.
 * Whoever can read it may drive the daemon; that is the whole of the access rule.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TOKEN_FILE = 'token';

export function tokenPath(dataDir: string): string {
  return join(dataDir, TOKEN_FILE);
}

export function readToken(dataDir: string): string | undefined {
  try {
    const token = readFileSync(tokenPath(dataDir), 'utf8').trim();
    return token || undefined;
  } catch {
    return undefined;
  }
}

export function ensureToken(dataDir: string): string {
  const path = tokenPath(dataDir);
  const existing = readToken(dataDir);
  if (existing) {
    // Tighten a token file that someone loosened.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return existing;
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'w' });
  chmodSync(path, 0o600);
  return token;
}

/**
 * The AES-256-GCM key for secrets at rest. Configured in production; for the
 * embedded development database only, generated once into the data folder.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseEncryptionKey } from '../config.ts';

/** Result of {@link resolveEncryptionKey}. */
export interface ResolvedKey {
  key: Buffer;
  /** Set when the key was generated now, so start-up can say so. */
  generatedFile?: string;
  file?: string;
}

/** Returns the configured key, or the data folder's key (creating it with mode 0600). */
export async function resolveEncryptionKey(configured: Buffer | undefined, dataDir: string): Promise<ResolvedKey> {
  if (configured) return { key: configured };
  const file = path.join(dataDir, 'encryption.key');
  try {
    return { key: parseEncryptionKey(await readFile(file, 'utf8'), file), file };
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  const key = randomBytes(32);
  // Written whole under a name of its own, then published with link(), which
  // never replaces an existing file: a process that loses the race reads the
  // winner's complete key, never a file still being written.
  const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(draft, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    await link(draft, file);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
    return { key: parseEncryptionKey(await readFile(file, 'utf8'), file), file };
  } finally {
    await unlink(draft).catch(() => {});
  }
  return { key, generatedFile: file, file };
}

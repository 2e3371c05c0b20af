/** The live policy version, read with the ETag an edit or rollback must send back as If-Match. */
import { api } from '../../api/client.ts';
import type { PolicyVersion } from './types.ts';

/** The live version with the ETag the server sent (the header; the body repeats it). */
export async function loadLive(signal?: AbortSignal): Promise<PolicyVersion> {
  const res = await api<Response>('GET', '/v1/policy', { raw: true, signal });
  const body = (await res.json()) as PolicyVersion;
  return { ...body, etag: res.headers.get('etag') ?? body.etag };
}

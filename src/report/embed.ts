// Gallery PNGs are embedded as data URIs so the report is one file. The paths come from the results
// file, so they are only followed inside its directory, and only real PNGs are embedded.
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** A gallery image is a few hundred kB at most; anything far larger is not one of ours. */
const MAX_BYTES = 32 * 1024 * 1024;

export type Embedded = { ok: true; uri: string } | { ok: false; reason: string };

export async function embedPng(dir: string, rel: string): Promise<Embedded> {
  if (rel === '' || isAbsolute(rel)) return { ok: false, reason: 'not a relative path' };
  const root = resolve(dir);
  const full = resolve(root, rel);
  const back = relative(root, full);
  if (back === '' || back === '..' || back.startsWith(`..${sep}`) || isAbsolute(back)) return { ok: false, reason: 'outside the results directory' };
  try {
    const st = await stat(full);
    if (!st.isFile()) return { ok: false, reason: 'not a file' };
    if (st.size > MAX_BYTES) return { ok: false, reason: 'file too large' };
    const bytes = await readFile(full);
    if (bytes.length < PNG_SIGNATURE.length || !bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE)) return { ok: false, reason: 'not a PNG file' };
    return { ok: true, uri: `data:image/png;base64,${bytes.toString('base64')}` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'file missing' : `unreadable (${code ?? 'error'})` };
  }
}

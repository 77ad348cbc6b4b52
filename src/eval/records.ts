// Per-image results, appended as JSON lines the moment a batch finishes, so a killed run loses at
// most the batch in flight and a restarted run skips what is done.
import { appendFileSync, existsSync, readFileSync, truncateSync } from 'node:fs';

/** One image under one attack at one radius ('clean' has eps 0). */
export interface ImageRecord {
  /** Index of the image in dataset order. */
  index: number;
  id: string;
  eps: number;
  attack: string;
  /** Correct and labelled pixels (ignore pixels in neither). */
  correct: number;
  labelled: number;
  /** Per class: intersection (correct pixels of class c) and predicted-pixel count of class c. */
  inter: number[];
  pred: number[];
  /** Per class labelled-pixel count (same for every attack; kept for self-contained records). */
  gt: number[];
}

export class RecordLog {
  private readonly byKey = new Map<string, ImageRecord>();
  readonly records: ImageRecord[] = [];

  constructor(readonly path: string) {
    if (!existsSync(path)) return;
    let text = readFileSync(path, 'utf8');
    // A run killed mid-write can leave a torn last line: drop it so new appends start clean.
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      truncateSync(path, Buffer.byteLength(text.slice(0, end)));
      text = text.slice(0, end);
    }
    text.split('\n').forEach((line, k) => {
      if (!line.trim()) return;
      let r: ImageRecord;
      try {
        r = JSON.parse(line) as ImageRecord;
      } catch {
        throw new Error(`${path}:${k + 1}: not a valid record (corrupt file?)`);
      }
      this.add(r);
    });
  }

  private add(r: ImageRecord): void {
    const key = RecordLog.key(r.index, r.eps, r.attack);
    if (this.byKey.has(key)) return;
    this.byKey.set(key, r);
    this.records.push(r);
  }

  static key(index: number, eps: number, attack: string): string {
    return `${index}|${eps}|${attack}`;
  }

  has(index: number, eps: number, attack: string): boolean {
    return this.byKey.has(RecordLog.key(index, eps, attack));
  }

  get(index: number, eps: number, attack: string): ImageRecord | undefined {
    return this.byKey.get(RecordLog.key(index, eps, attack));
  }

  /** Appends a whole batch's records in one write. */
  append(rs: ImageRecord[]): void {
    if (rs.length === 0) return;
    appendFileSync(this.path, rs.map((r) => `${JSON.stringify(r)}\n`).join(''));
    for (const r of rs) this.add(r);
  }
}

// SRVR, the semantic robustness volume ratio (spec "Metric"): the mean over regions (start points x
// meshes x classes) of Vol(region clipped to the domain) / Vol(domain).
import { type Box, clippedVolume, type Domain, domainVolume, RegionError, validateDomain } from './regions/box.js';

function checkBox(box: Box, n: number, where: string): void {
  if (box?.a?.length !== n || box?.b?.length !== n)
    throw new RegionError(`${where}: region has ${box?.a?.length}/${box?.b?.length} dimensions, domain has ${n}`);
  for (let i = 0; i < n; i++) if (Number.isNaN(box.a[i]) || Number.isNaN(box.b[i])) throw new RegionError(`${where}: region bound ${i} is NaN`);
}

/** Vol(region ∩ domain) / Vol(domain) for one region. */
export function volumeRatio(region: Box, domain: Domain): number {
  validateDomain(domain, 'volumeRatio');
  checkBox(region, domain.length, 'volumeRatio');
  return clippedVolume(region, domain) / domainVolume(domain);
}

/** Mean volume ratio of the regions (flat mean: each region counts once). */
export function srvr(regions: readonly Box[], domain: Domain): number {
  validateDomain(domain, 'srvr');
  if (regions.length === 0) throw new RegionError('srvr: no regions to average');
  const vd = domainVolume(domain);
  let sum = 0;
  regions.forEach((box, k) => {
    checkBox(box, domain.length, `srvr: regions[${k}]`);
    sum += clippedVolume(box, domain) / vd;
  });
  return sum / regions.length;
}

/** One found region with what it was found for (e.g. { method: 'oir_b', class: 'chair', mesh: 'x', start: '0' }). */
export interface SrvrRecord {
  region: Box;
  labels: Readonly<Record<string, string>>;
}

export interface SrvrGroup {
  /** The values of the grouping labels shared by this group ({} for the overall mean). */
  key: Record<string, string>;
  srvr: number;
  count: number;
}

/**
 * SRVR per group of records sharing the labels named in `by` (none: one overall group), each a flat mean
 * over its records (start points x meshes x classes). Groups come in order of first appearance.
 */
export function aggregateSrvr(records: readonly SrvrRecord[], domain: Domain, by: readonly string[] = []): SrvrGroup[] {
  const groups = new Map<string, { key: Record<string, string>; regions: Box[] }>();
  records.forEach((rec, k) => {
    const key: Record<string, string> = {};
    for (const label of by) {
      const v = rec.labels?.[label];
      if (v === undefined) throw new RegionError(`aggregateSrvr: records[${k}] has no label '${label}'`);
      key[label] = v;
    }
    const id = JSON.stringify(by.map((l) => key[l]));
    const g = groups.get(id) ?? { key, regions: [] };
    g.regions.push(rec.region);
    groups.set(id, g);
  });
  if (groups.size === 0) throw new RegionError('aggregateSrvr: no records');
  return [...groups.values()].map((g) => ({ key: g.key, srvr: srvr(g.regions, domain), count: g.regions.length }));
}

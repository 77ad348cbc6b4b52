// What a benchmark's results.json records about the machine it ran on (shared by the TypeScript benches).
import { cpus, loadavg } from 'node:os';

export interface MachineInfo {
  node: string;
  cpu: string;
  logicalCpus: number;
  loadAverageAtStart: number;
  loadAverageAtEnd: number;
  date: string;
}

/** Call at the end of a run; `loadAtStart` is loadavg()[0] taken before the timed work. */
export function machineInfo(loadAtStart: number): MachineInfo {
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    logicalCpus: cpus().length,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg()[0],
    date: new Date().toISOString(),
  };
}

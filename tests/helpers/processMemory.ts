/** A child process's memory, from Linux's /proc: now (VmRSS) and at its peak (VmHWM), in MB. */
import { readFileSync } from 'node:fs';

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

export const residentMb = (pid: number): number => statusField(pid, 'VmRSS');
export const peakResidentMb = (pid: number): number => Math.round(statusField(pid, 'VmHWM'));

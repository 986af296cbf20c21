import { describe, expect, it } from 'vitest';
import { FAULT_OPERATIONS, runFaultTrials, type FaultReport } from '../helpers/faults.ts';

const TRIALS = process.env.TEDDY_LONG_TESTS ? 60 : 20;

describe('a daemon killed with SIGKILL at random moments', () => {
  let report: FaultReport;

  it(`is killed ${TRIALS} times during download, verify, training, cleaning, import and export`, async () => {
    report = await runFaultTrials(TRIALS, 3);
    expect(report.trials).toHaveLength(TRIALS);
    expect(new Set(report.trials.map((t) => t.operation))).toEqual(new Set(FAULT_OPERATIONS));
  }, 600_000);

  it('leaves a store that passes the integrity check after every kill', () => {
    expect(report.trials.filter((t) => t.integrity !== 'ok')).toEqual([]);
  });

  it('leaves no half-written, unfinished or unrecorded file', () => {
    expect(report.trials.flatMap((t) => [...t.orphanFiles, ...t.unfinishedFiles])).toEqual([]);
  });

  it('loses no image record and no file of a kept image', () => {
    expect(report.recordsLost).toBe(0);
  });

  it('reports no job as still running after a restart', () => {
    expect(report.trials.filter((t) => t.stillRunningJobs > 0)).toEqual([]);
  });

  it('lets a new download finish what the kills interrupted', () => {
    expect(report.finalDownloadComplete).toBe(true);
    expect(report.survived).toBe(report.trials.length);
  });
});

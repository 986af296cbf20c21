/**
 * Reliability under hostile input, faults and load, at the issue's full sizes: protocol
 * fuzzing, SIGKILL trials across every job kind, 4 clients × 10,000 URLs and 1,000
 * predictions during a training.
 * Last line: {"bench":"reliability","messages_fuzzed":N,"faults_injected":K,"faults_survived":K2,"records_lost":0,"peak_rss_mb":R}
 */
import { removeTempDirs, startDaemonProcess, tempDataDir } from '../../tests/helpers/daemonProcess.ts';
import { runFaultTrials } from '../../tests/helpers/faults.ts';
import { fuzzDaemon } from '../../tests/helpers/fuzz.ts';
import { runLoad } from '../../tests/helpers/load.ts';
import { peakResidentMb } from '../../tests/helpers/processMemory.ts';
import { numberArg } from './util.ts';

export async function main(args: string[]): Promise<void> {
  const messages = numberArg(args, 'messages', 20_000);
  const faults = numberArg(args, 'faults', 30);
  try {
    const daemon = await startDaemonProcess(tempDataDir('teddy-bench-fuzz-'));
    const fuzz = await fuzzDaemon(daemon.port, daemon.token, messages, 11);
    const fuzzAlive = daemon.child.exitCode === null;
    const fuzzPeak = peakResidentMb(daemon.child.pid!);
    await daemon.stop();
    console.error(`fuzz: ${fuzz.messages} frames, ${fuzz.reconnects} reconnects, ${fuzz.unanswered} unanswered markers, daemon ${fuzzAlive ? 'alive' : 'DEAD'}, peak ${fuzzPeak} MB`);

    const report = await runFaultTrials(faults, 5);
    const byOperation = new Map<string, number>();
    for (const t of report.trials) byOperation.set(t.operation, (byOperation.get(t.operation) ?? 0) + 1);
    console.error(`faults: ${report.survived}/${report.trials.length} survived (${[...byOperation].map(([k, v]) => `${k} ${v}`).join(', ')}), final download complete: ${report.finalDownloadComplete}`);

    const load = await runLoad({ clients: 4, urlsPerClient: 10_000, predictions: 1000 });
    console.error(`load: ${JSON.stringify(load)}`);

    console.log(
      JSON.stringify({
        bench: 'reliability',
        messages_fuzzed: fuzz.messages,
        faults_injected: report.trials.length,
        faults_survived: fuzzAlive && fuzz.unanswered === 0 ? report.survived : 0,
        records_lost: report.recordsLost + (load.urlsAdded - load.urlsStored),
        peak_rss_mb: Math.max(fuzzPeak, load.peakRssMb),
      }),
    );
  } finally {
    removeTempDirs();
  }
}

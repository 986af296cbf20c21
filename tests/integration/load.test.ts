import { describe, expect, it } from 'vitest';
import { runLoad } from '../helpers/load.ts';

/** The full figures (4 × 10,000 URLs, 1,000 predictions) run with TEDDY_LONG_TESTS=1 and in `npm run bench -- reliability`. */
const LONG = Boolean(process.env.TEDDY_LONG_TESTS);

describe('the daemon under load', () => {
  it('stores every URL that 4 clients add at once, and answers a burst of overlay predictions while training', async () => {
    const report = await runLoad({ clients: 4, urlsPerClient: LONG ? 10_000 : 2500, predictions: LONG ? 1000 : 300 });
    expect(report.urlsStored).toBe(report.urlsAdded);
    expect(report.predictionsAnswered + report.busyRefusals).toBe(report.predictions);
    // Busy refusals are allowed, but a burst refused in full would not be answering predictions.
    expect(report.predictionsAnswered).toBeGreaterThan(0);
    expect(report.predictionErrors).toBe(0);
    expect(report.trainingState).toBe('done');
    expect(report.peakRssMb).toBeLessThan(1500);
    console.log(JSON.stringify(report));
  }, 600_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemonProcess, tempDataDir, type DaemonProcess } from '../helpers/daemonProcess.ts';
import { chromiumAvailable, launchWithExtension, type ExtensionBrowser } from './browser.ts';

describe.skipIf(!chromiumAvailable)('pairing', () => {
  let daemon: DaemonProcess;
  let ext: ExtensionBrowser;

  beforeAll(async () => {
    [daemon, ext] = await Promise.all([startDaemonProcess(tempDataDir()), launchWithExtension()]);
  });
  afterAll(async () => {
    await ext?.close();
    await daemon?.stop();
  });

  it('starts unpaired, refuses a wrong token, then pairs with the right one', async () => {
    const options = await ext.openExtensionPage('options.html');
    await options.waitForSelector('#state[data-status="unpaired"]');
    const badge = () => ext.worker.evaluate(() => chrome.action.getBadgeText({}));
    expect(await badge()).toBe('SET');

    await options.$eval('#address', (el) => ((el as HTMLInputElement).value = ''));
    await options.type('#address', `127.0.0.1:${daemon.port}`);
    await options.type('#token', 'wrong-token-000000');
    await options.click('#pair');
    await options.waitForSelector('#state[data-status="unauthorized"]', { timeout: 30_000 });
    expect(await badge()).toBe('KEY');

    await options.type('#token', `teddy://127.0.0.1:${daemon.port}/#${daemon.token}`);
    await options.click('#pair');
    await options.waitForSelector('#state[data-status="connected"]', { timeout: 30_000 });
    expect(await badge()).toBe('');
  });
});

/** The dataset the popup works on (the one the background has selected), following changes. */
import { useEffect, useState } from 'preact/hooks';
import { ask } from '../ask.ts';
import { useBroadcast } from '../ui/hooks.ts';

export function useDataset(onError: (err: unknown) => void): string | null {
  const [dataset, setDataset] = useState<string | null>(null);
  useEffect(() => {
    ask({ kind: 'settings.get' }).then(({ dataset: current }) => setDataset(current), onError);
  }, []);
  useBroadcast((message) => {
    if (message.kind === 'dataset.changed') setDataset(message.dataset);
  });
  return dataset;
}

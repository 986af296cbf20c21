import { describe, expect, it } from 'vitest';
import { MAX_URLS_PER_ADD, requests } from '../../shared/protocol.ts';
import { addInBatches, toBatches } from './batches.ts';

describe('URL batches', () => {
  it('cuts long lists into protocol-sized requests and drops repeats', () => {
    const items = Array.from({ length: 4500 }, (_, i) => ({ url: `https://x.test/${i % 4200}.jpg`, sourcePage: null }));
    const batches = toBatches(items);
    expect(batches.map((b) => b.length)).toEqual([MAX_URLS_PER_ADD, MAX_URLS_PER_ADD, 200]);
  });

  it('sends valid urls.add requests and sums up added, duplicate and rejected', async () => {
    const seen = new Set<string>();
    const sent: unknown[] = [];
    const summary = await addInBatches(
      async (params) => {
        sent.push(requests['urls.add'].params.parse(params));
        let added = 0;
        const rejected = [];
        for (const item of params.items) {
          if (item.url.startsWith('ftp:')) rejected.push({ url: item.url, reason: 'scheme' });
          else if (!seen.has(item.url) && seen.add(item.url)) added++;
        }
        return { added, duplicates: params.items.length - added - rejected.length, rejected };
      },
      'default',
      'grizzly',
      [
        { url: 'https://a.test/1.jpg', sourcePage: 'https://a.test/' },
        { url: 'https://a.test/1.jpg', sourcePage: 'https://a.test/' },
        { url: 'ftp://a.test/2.jpg', sourcePage: null },
        { url: 'https://a.test/3.jpg', sourcePage: null },
      ],
    );
    expect(summary).toEqual({ added: 2, duplicates: 1, rejected: 1 });
    expect(sent).toHaveLength(1);
  });
});

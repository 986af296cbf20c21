import { describe, expect, it } from 'vitest';
import { parseRequest, REQUEST_TYPES, requests } from './protocol.ts';

describe('parseRequest', () => {
  it('accepts a well-formed request and applies defaults', () => {
    const parsed = parseRequest({ id: 7, type: 'images.list', dataset: 'bears' });
    expect(parsed).toEqual({ ok: true, id: 7, type: 'images.list', params: { dataset: 'bears', limit: 100, offset: 0 } });
  });

  it('rejects a frame without an id as bad_message', () => {
    expect(parseRequest({ type: 'status' })).toMatchObject({ ok: false, id: null, error: { code: 'bad_message' } });
    expect(parseRequest('status')).toMatchObject({ ok: false, error: { code: 'bad_message' } });
    expect(parseRequest(null)).toMatchObject({ ok: false, error: { code: 'bad_message' } });
  });

  it('rejects an unknown type, including inherited property names', () => {
    expect(parseRequest({ id: 1, type: 'drop.tables' })).toMatchObject({ ok: false, id: 1, error: { code: 'unknown_type' } });
    expect(parseRequest({ id: 1, type: 'constructor' })).toMatchObject({ ok: false, error: { code: 'unknown_type' } });
    expect(parseRequest({ id: 1, type: '__proto__' })).toMatchObject({ ok: false, error: { code: 'unknown_type' } });
  });

  it('rejects class names that are path tricks', () => {
    for (const className of ['..', '.', 'a/b', 'a\\b', '', 'x\u0000y', ' '.repeat(3)]) {
      const parsed = parseRequest({ id: 1, type: 'urls.add', dataset: 'd', items: [{ url: 'https://x.test/a.jpg', className }] });
      expect(parsed, className).toMatchObject({ ok: false, error: { code: 'invalid_params' } });
    }
  });

  it('caps the number of URLs per request', () => {
    const items = Array.from({ length: 2001 }, (_, i) => ({ url: `https://x.test/${i}.jpg`, className: 'a' }));
    expect(parseRequest({ id: 1, type: 'urls.add', dataset: 'd', items })).toMatchObject({ ok: false, error: { code: 'invalid_params' } });
  });

  it('binds every request type to a params and a result schema', () => {
    for (const type of REQUEST_TYPES) {
      expect(requests[type].params).toBeDefined();
      expect(requests[type].result).toBeDefined();
    }
  });
});

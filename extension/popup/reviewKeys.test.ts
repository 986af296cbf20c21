import { describe, expect, it } from 'vitest';
import { keyAction, moveSelection } from './reviewKeys.ts';

describe('top-losses grid keys', () => {
  it('maps keys to actions', () => {
    expect(keyAction('j', 3)).toEqual({ kind: 'move', by: 1 });
    expect(keyAction('ArrowUp', 3)).toEqual({ kind: 'move', by: -3 });
    expect(keyAction('d', 3)).toEqual({ kind: 'delete' });
    expect(keyAction('3', 3)).toEqual({ kind: 'relabel', classIndex: 2 });
    expect(keyAction('0', 3)).toBeNull();
    expect(keyAction('n', 3)).toEqual({ kind: 'page', by: 1 });
  });
  it('keeps the selection inside the page', () => {
    expect(moveSelection(0, -1, 5)).toBe(0);
    expect(moveSelection(4, 3, 5)).toBe(4);
    expect(moveSelection(7, 0, 3)).toBe(2);
  });
});

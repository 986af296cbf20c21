import { describe, expect, it } from 'vitest';
import { menuModel, parseMenuId } from './menus.ts';

describe('context menus', () => {
  it('offers every class and "New class…" for images and for whole pages', () => {
    const items = menuModel(['black', 'grizzly']);
    const titles = (parent: string) => items.filter((i) => i.parentId === parent && i.type !== 'separator').map((i) => i.title);
    expect(titles('teddy-image')).toEqual(['black', 'grizzly', 'New class…']);
    expect(titles('teddy-page')).toEqual(['black', 'grizzly', 'New class…']);
    expect(items.find((i) => i.id === 'teddy-image')!.contexts).toEqual(['image']);
    expect(items.find((i) => i.id === 'teddy-page')!.contexts).toEqual(['page']);
  });

  it('maps clicked ids back to a class or to "new", including names with colons', () => {
    expect(parseMenuId('teddy-image:class:black')).toEqual({ target: 'image', className: 'black' });
    expect(parseMenuId('teddy-page:class:a:b')).toEqual({ target: 'page', className: 'a:b' });
    expect(parseMenuId('teddy-page:new')).toEqual({ target: 'page', className: null });
    expect(parseMenuId('teddy-image')).toBeNull();
    expect(parseMenuId('something-else')).toBeNull();
  });
});

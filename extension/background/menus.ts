/**
 * The right-click menus: "Add image to class ▸ <classes> / New class…" on images and
 * "Add every image on this page to ▸ …" on pages. The model is pure so it can be
 * tested and inspected; `applyMenus` mirrors it into the browser.
 */
export type MenuTarget = 'image' | 'page';

export interface MenuItem {
  id: string;
  title: string;
  contexts: ('image' | 'page')[];
  parentId?: string;
  type?: 'normal' | 'separator';
}

const PARENT: Record<MenuTarget, { id: string; title: string }> = {
  image: { id: 'teddy-image', title: 'Add image to class' },
  page: { id: 'teddy-page', title: 'Add every image on this page to' },
};

export function menuModel(classes: string[]): MenuItem[] {
  const items: MenuItem[] = [];
  for (const target of ['image', 'page'] as const) {
    const parent = PARENT[target];
    items.push({ id: parent.id, title: parent.title, contexts: [target] });
    for (const name of classes) {
      items.push({ id: `${parent.id}:class:${name}`, parentId: parent.id, title: name.replaceAll('&', '&&'), contexts: [target] });
    }
    if (classes.length) items.push({ id: `${parent.id}:sep`, parentId: parent.id, title: '', type: 'separator', contexts: [target] });
    items.push({ id: `${parent.id}:new`, parentId: parent.id, title: 'New class…', contexts: [target] });
  }
  return items;
}

export type MenuChoice = { target: MenuTarget; className: string | null };

/** What a clicked menu id means: a class to add to, or `className: null` for "New class…". */
export function parseMenuId(id: string | number): MenuChoice | null {
  const match = /^teddy-(image|page):(?:class:(.+)|(new))$/s.exec(String(id));
  if (!match) return null;
  return { target: match[1] as MenuTarget, className: match[3] ? null : (match[2] ?? null) };
}

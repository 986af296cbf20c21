/** Keyboard shortcuts of the top-losses grid, kept apart from the view so they can be tested and listed. */

export type GridAction =
  | { kind: 'move'; by: number }
  | { kind: 'delete' }
  | { kind: 'ok' }
  | { kind: 'relabel'; classIndex: number }
  | { kind: 'undo' }
  | { kind: 'page'; by: number };

export const SHORTCUTS: { keys: string; does: string }[] = [
  { keys: '← → ↑ ↓ / j k', does: 'move' },
  { keys: 'd', does: 'delete' },
  { keys: 'o', does: 'OK (keep)' },
  { keys: '1–9', does: 'relabel to class n' },
  { keys: 'u', does: 'undo' },
  { keys: 'n / p', does: 'next / previous page' },
];

export function keyAction(key: string, columns: number): GridAction | null {
  switch (key) {
    case 'ArrowRight':
    case 'j':
      return { kind: 'move', by: 1 };
    case 'ArrowLeft':
    case 'k':
      return { kind: 'move', by: -1 };
    case 'ArrowDown':
      return { kind: 'move', by: columns };
    case 'ArrowUp':
      return { kind: 'move', by: -columns };
    case 'd':
    case 'Delete':
      return { kind: 'delete' };
    case 'o':
      return { kind: 'ok' };
    case 'u':
      return { kind: 'undo' };
    case 'n':
    case 'PageDown':
      return { kind: 'page', by: 1 };
    case 'p':
    case 'PageUp':
      return { kind: 'page', by: -1 };
  }
  if (/^[1-9]$/.test(key)) return { kind: 'relabel', classIndex: Number(key) - 1 };
  return null;
}

/** Where the selection goes after moving; stays inside the page. */
export function moveSelection(index: number, by: number, count: number): number {
  if (count <= 0) return 0;
  return Math.min(count - 1, Math.max(0, index + by));
}

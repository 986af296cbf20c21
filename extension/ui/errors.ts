/** How failures read in the UI; dependency-free so content scripts can use it too. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Styles for the shadow roots the content scripts put on pages. */

/**
 * Gives `root` the stylesheet `css`. A constructed sheet is not subject to the page's
 * style-src CSP, unlike a <style> element, which stays the fallback where constructed
 * sheets are missing.
 */
export function adoptStyles(root: ShadowRoot, css: string): void {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch {
    const style = root.ownerDocument.createElement('style');
    style.textContent = css;
    root.append(style);
  }
}

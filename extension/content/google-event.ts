/**
 * The event by which google-tap.ts (page world) hands Google's responses to the
 * content script. google-tap.ts runs in the page's main world and is bundled on its
 * own, so this module must stay free of imports.
 */
export const GOOGLE_DATA_EVENT = 'teddy:google-data';

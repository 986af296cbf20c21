/**
 * One interface for every search engine's results page. A scraper knows where its
 * engine keeps the original image URL (never the thumbnail, unless the page offers
 * nothing else) and how to get more results; the collect panel knows nothing else.
 */
export type Engine = 'google' | 'bing' | 'duckduckgo';

export interface ScrapedImage {
  /** The full-size image. */
  url: string;
  /** The page the image appears on (not the search page). */
  sourcePage: string | null;
  thumbnail: string | null;
}

export type ProblemKind = 'consent' | 'captcha' | 'no_javascript' | 'basic_html' | 'no_token' | 'unrecognised';

/** Why a page does not give (all of) what we want, in words for the user. */
export interface PageProblem {
  kind: ProblemKind;
  message: string;
  /** The page still offers thumbnails (with source pages), a usable fallback. */
  thumbnailsOnly: boolean;
}

export interface ResultBatch {
  /** Results not returned by an earlier call. */
  images: ScrapedImage[];
  /** No more results will come (end of results, or the page stopped loading more). */
  end: boolean;
}

export interface ResultSource {
  next(): Promise<ResultBatch>;
}

export interface Scraper {
  readonly engine: Engine;
  /** A consent wall, captcha, script-less page… or null when the page is a normal results page. */
  problem(doc: Document): PageProblem | null;
  /** Starts reading results from this page: each `next()` brings new ones, scrolling or fetching as the engine needs. */
  open(win: Window, options?: OpenOptions): ResultSource;
}

export interface OpenOptions {
  /** How long to wait for more results after scrolling before calling it the end. */
  settleMs?: number;
}

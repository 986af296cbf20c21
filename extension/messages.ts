/**
 * Messages between the extension's own parts (background, content scripts, popup,
 * options). They cross a process boundary like the daemon's frames do, and content
 * scripts live inside pages we do not control, so every one is validated on arrival.
 *
 * Direction: pages and content scripts ask the background (`BgRequest`, answered by
 * `BgReply`); the background asks a tab's content script (`TabRequest`); the
 * background tells extension pages what changed (`Broadcast`).
 */
import { z } from 'zod';
import { Event, MAX_PREDICT_URLS, MAX_URLS_PER_ADD, Name, PredictUrls, UrlItem, UrlPrediction } from '../shared/protocol.ts';

export const LinkStatus = z.enum([
  /** No address/token configured yet. */
  'unpaired',
  'connecting',
  'connected',
  /** Lost or refused; a retry is scheduled (`retryAt`). */
  'disconnected',
  /** The daemon refused the token; no retries until the user pairs again (retries would trip its lockout). */
  'unauthorized',
  /** The daemon speaks another protocol version. */
  'incompatible',
]);
export type LinkStatus = z.infer<typeof LinkStatus>;

export const LinkState = z.object({
  status: LinkStatus,
  address: z.string().nullable(),
  message: z.string().nullable(),
  retryAt: z.number().nullable(),
  daemonVersion: z.string().nullable(),
});
export type LinkState = z.infer<typeof LinkState>;

export const Settings = z.object({
  address: z.string().url().max(200),
  token: z.string().max(256),
});
export type Settings = z.infer<typeof Settings>;

export const CollectedItem = UrlItem.omit({ className: true });
export type CollectedItem = z.infer<typeof CollectedItem>;

/** A batch from a content script; the background splits it into `urls.add` requests. */
const MAX_COLLECT_BATCH = MAX_URLS_PER_ADD * 5;

/** The overlay's batches go to the daemon as they are: its `predict.urls` limit is theirs. */
export const MAX_OVERLAY_BATCH = MAX_PREDICT_URLS;

export const OverlayPrediction = UrlPrediction;
export type OverlayPrediction = UrlPrediction;

export const BgRequest = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('state.get') }),
  z.object({ kind: z.literal('settings.get') }),
  z.object({ kind: z.literal('pairing.set'), address: z.string().min(1).max(200), token: z.string().min(1).max(256) }),
  z.object({ kind: z.literal('dataset.select'), dataset: Name }),
  z.object({ kind: z.literal('classes.get') }),
  z.object({ kind: z.literal('collect.add'), className: Name, items: z.array(CollectedItem).min(1).max(MAX_COLLECT_BATCH) }),
  /** The overlay's batch of image URLs, predicted with the selected dataset's newest model; only from sites where it is on. */
  z.object({ kind: z.literal('overlay.predict'), urls: PredictUrls }),
  /**
   * Any daemon request, forwarded over the background's one connection. Its params are
   * checked against the protocol schema of `type` before they are sent, and the result
   * after it arrives — so new protocol requests (training, prediction) need no new code here.
   */
  z.object({ kind: z.literal('daemon.request'), type: z.string().min(1).max(64), params: z.record(z.string(), z.unknown()) }),
]);
export type BgRequest = z.infer<typeof BgRequest>;

export const AddSummary = z.object({
  added: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
});
export type AddSummary = z.infer<typeof AddSummary>;

/** What each background request answers with, checked by the asker. */
export const bgResults = {
  'state.get': LinkState,
  'settings.get': z.object({ settings: Settings.nullable(), dataset: Name }),
  'pairing.set': LinkState,
  'dataset.select': z.object({ dataset: Name }),
  'classes.get': z.object({ dataset: Name, classes: z.array(z.string()) }),
  'collect.add': AddSummary,
  'overlay.predict': z.object({ dataset: Name, predictions: z.array(OverlayPrediction) }),
  'daemon.request': z.unknown(),
} satisfies Record<BgRequest['kind'], z.ZodType>;

export const ReplyError = z.object({ code: z.string().max(64), message: z.string().max(2000) });
export type ReplyError = z.infer<typeof ReplyError>;

export const BgReply = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: ReplyError }),
]);
export type BgReply = z.infer<typeof BgReply>;

export const PageImage = z.object({ url: z.string().min(1).max(8192), sourcePage: z.string().max(8192).nullable() });
export type PageImage = z.infer<typeof PageImage>;

export const TabRequest = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('page.images') }),
  z.object({ kind: z.literal('page.promptClassName'), classes: z.array(z.string()) }),
  /** Which site the tab shows, for the popup's overlay switch (the popup may not read tab URLs). */
  z.object({ kind: z.literal('page.site') }),
  /** The selected dataset has a new model (or another dataset was selected): the overlay's answers are stale. */
  z.object({ kind: z.literal('overlay.refresh') }),
]);
export type TabRequest = z.infer<typeof TabRequest>;

export const tabResults = {
  'page.images': z.object({ images: z.array(PageImage) }),
  'page.promptClassName': z.object({ name: z.string().nullable() }),
  'page.site': z.object({ site: z.string().nullable() }),
  'overlay.refresh': z.object({}),
} satisfies Record<TabRequest['kind'], z.ZodType>;

export const Broadcast = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('state.changed'), state: LinkState }),
  z.object({ kind: z.literal('daemon.event'), event: Event }),
  z.object({ kind: z.literal('dataset.changed'), dataset: Name }),
  z.object({ kind: z.literal('urls.added'), dataset: Name, className: Name, summary: AddSummary }),
]);
export type Broadcast = z.infer<typeof Broadcast>;

export class BackgroundError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Unwraps a reply: throws its error, or returns the result checked against `schema`. */
export function unwrapReply<S extends z.ZodType>(raw: unknown, schema: S): z.infer<S> {
  const reply = BgReply.safeParse(raw);
  if (!reply.success) throw new BackgroundError('bad_message', 'the extension background sent an invalid reply');
  if (!reply.data.ok) throw new BackgroundError(reply.data.error.code, reply.data.error.message);
  const result = schema.safeParse(reply.data.result);
  if (!result.success) throw new BackgroundError('bad_message', 'the extension background sent an invalid result');
  return result.data;
}

/** How pages and content scripts ask the background, with replies checked against their schemas. */
import browser from 'webextension-polyfill';
import type { z } from 'zod';
import { requests, type RequestParams, type RequestResult, type RequestType } from '../shared/protocol.ts';
import { BgRequest, bgResults, unwrapReply } from './messages.ts';

type Kind = BgRequest['kind'];

export async function ask<K extends Kind>(request: Extract<BgRequest, { kind: K }>): Promise<z.infer<(typeof bgResults)[K]>> {
  const raw: unknown = await browser.runtime.sendMessage(BgRequest.parse(request));
  return unwrapReply(raw, bgResults[request.kind as K]) as z.infer<(typeof bgResults)[K]>;
}

/** A daemon request through the background's connection. */
export async function daemon<T extends RequestType>(type: T, params: RequestParams<T>): Promise<RequestResult<T>> {
  const raw: unknown = await browser.runtime.sendMessage(BgRequest.parse({ kind: 'daemon.request', type, params }));
  return unwrapReply(raw, requests[type].result) as RequestResult<T>;
}

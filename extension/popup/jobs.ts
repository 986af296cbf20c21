import type { Job } from '../../shared/protocol.ts';

/** A job in one of these states may still change, so the views keep following it. */
export const ACTIVE = new Set<Job['state']>(['queued', 'running']);

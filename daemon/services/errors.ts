import type { ErrorCode } from '../../shared/protocol.ts';

/** An error meant for the client: its code and message go over the wire as they are. */
export class DaemonError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/**
 * The daemon's settings: embedded defaults, overridden by environment variables,
 * overridden by command-line flags. Nothing here touches the filesystem.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_BACKBONE_ID } from './engine/backbones.ts';

export const DEFAULT_PORT = 47621;

/**
 * The extension's ID follows from the public key in manifest.json; it is fixed so
 * that the daemon can allow exactly its origin.
 */
export const EXTENSION_ID = 'hndkpdoholldkpljkfpjaahlinjjolbo';
export const EXTENSION_ORIGINS = [`chrome-extension://${EXTENSION_ID}`];

export interface DownloadSettings {
  concurrency: number;
  connectTimeoutMs: number;
  totalTimeoutMs: number;
  maxRedirects: number;
  maxBytes: number;
  retries: number;
  retryBaseDelayMs: number;
  /** Loopback, private and link-local targets are refused unless this is set. */
  allowPrivateAddresses: boolean;
  /** Overrides the address rule (tests that need one loopback address allowed and another refused). */
  addressCheck?: (address: string) => boolean;
  userAgent: string;
}

export interface ImageSettings {
  minSide: number;
  maxInputPixels: number;
  /** Longer side of the stored copy; larger images are shrunk (fastai's verify_images max_size). */
  maxStoredSide: number;
}

export interface EngineSettings {
  /** Backbone every new training starts from. */
  backboneId: string;
  /** Folder of already-present backbones, tried before the model cache and the download. */
  modelDir: string | undefined;
}

export interface DaemonConfig {
  host: string;
  port: number;
  dataDir: string;
  allowedOrigins: string[];
  download: DownloadSettings;
  images: ImageSettings;
  engine: EngineSettings;
}

export const BROWSER_USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

/** XDG data home, as the user expects a Linux tool to use it. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'teddy');
}

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.TEDDY_DATA_DIR ?? defaultDataDir(env));
}

export function resolvePort(flag: string | number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const raw = flag ?? env.TEDDY_PORT;
  if (raw === undefined || raw === '') return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${String(raw)}`);
  return port;
}

function envFlag(value: string | undefined): boolean {
  return value === '1' || value === 'true' || value === 'yes';
}

export function buildConfig(
  opts: { dataDir?: string; port?: string | number; allowPrivate?: boolean; origins?: string[] } = {},
  env: NodeJS.ProcessEnv = process.env,
): DaemonConfig {
  const extraOrigins = (env.TEDDY_EXTRA_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return {
    // Loopback only: the daemon is a local companion, never a network service.
    host: '127.0.0.1',
    port: resolvePort(opts.port, env),
    dataDir: resolveDataDir(opts.dataDir, env),
    allowedOrigins: [...EXTENSION_ORIGINS, ...(opts.origins ?? []), ...extraOrigins],
    download: {
      concurrency: 8,
      connectTimeoutMs: 10_000,
      totalTimeoutMs: 30_000,
      maxRedirects: 5,
      maxBytes: 20 * 1024 * 1024,
      retries: 2,
      retryBaseDelayMs: 500,
      allowPrivateAddresses: opts.allowPrivate ?? envFlag(env.TEDDY_ALLOW_PRIVATE_ADDRESSES),
      userAgent: BROWSER_USER_AGENT,
    },
    images: {
      minSide: 32,
      maxInputPixels: 40_000_000,
      maxStoredSide: 1024,
    },
    engine: {
      backboneId: env.TEDDY_BACKBONE || DEFAULT_BACKBONE_ID,
      modelDir: env.TEDDY_MODEL_DIR || undefined,
    },
  };
}

/** Test and benchmark overrides of the download timings, read from the environment. */
export function applyDownloadEnv(config: DaemonConfig, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  };
  const d = config.download;
  d.concurrency = num('TEDDY_DOWNLOAD_CONCURRENCY') ?? d.concurrency;
  d.connectTimeoutMs = num('TEDDY_CONNECT_TIMEOUT_MS') ?? d.connectTimeoutMs;
  d.totalTimeoutMs = num('TEDDY_TOTAL_TIMEOUT_MS') ?? d.totalTimeoutMs;
  d.maxBytes = num('TEDDY_MAX_BYTES') ?? d.maxBytes;
  d.retries = num('TEDDY_RETRIES') ?? d.retries;
  d.retryBaseDelayMs = num('TEDDY_RETRY_DELAY_MS') ?? d.retryBaseDelayMs;
  return config;
}

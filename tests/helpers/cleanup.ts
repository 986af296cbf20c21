import { afterAll } from 'vitest';
import { removeTempDirs } from './daemonProcess.ts';

afterAll(() => removeTempDirs());

import type { ExecFileSyncOptions } from "node:child_process";

export class BundleError extends Error {}
export function run(cmd: string, args: string[], options?: ExecFileSyncOptions & { input?: Buffer }): Buffer;
export function nodeLlamaCppDir(): string;
export function llamaBundle(): { bundle: string; commit: string };
export function extractBundle(destDir: string, paths?: string[]): string;

import fs from "node:fs";

/** Whether this platform lists a process's threads in /proc (Linux). */
export const canCountThreads = fs.existsSync("/proc/self/task");

/** Threads of this process right now: one /proc/self/task entry each. */
export function liveThreads(): number {
  return fs.readdirSync("/proc/self/task").length;
}

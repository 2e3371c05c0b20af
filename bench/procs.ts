/**
 * What a long or multi-process benchmark reads of its processes from /proc
 * (Linux): resident memory, open file descriptors and CPU time, summed over
 * a set of processes (a server's primary and its workers, PostgreSQL's
 * postmaster and its backends). A process that ended between listing and
 * reading counts as 0: the figures are of the processes alive at that moment.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { procCpu } from './harness.ts';

/** Resident memory of the processes, in MB. */
export function rssMb(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

/** Open file descriptors of the processes (entries of /proc/PID/fd: sockets, pipes, files). */
export function fdCount(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      n += readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // gone
    }
  }
  return n;
}

/** CPU seconds (user + system) of the processes. */
export function cpuOf(pids: readonly number[]): number {
  return pids.reduce((a, pid) => a + procCpu(pid), 0);
}

/**
 * CPU seconds the processes used since the last call with the same `seen`
 * map (pid → its CPU seconds then): a process new since then counts from 0,
 * one that ended is dropped, so the figure never goes negative (the last
 * moments of an ended process are not counted).
 */
export function cpuSinceLast(pids: readonly number[], seen: Map<number, number>): number {
  let used = 0;
  const now = new Map<number, number>();
  for (const pid of pids) {
    const cpu = procCpu(pid);
    now.set(pid, cpu);
    used += Math.max(0, cpu - (seen.get(pid) ?? 0));
  }
  seen.clear();
  for (const [pid, cpu] of now) seen.set(pid, cpu);
  return used;
}

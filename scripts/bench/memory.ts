// Peak memory of a process tree (a process and all its descendants), as PSS: each shared page counted once
// across the tree, so Postfix's many small processes (master, smtpd, cleanup, qmgr, smtp, ...) and one node
// process compare fairly; and the CPU time the tree has used. Linux only (/proc); undefined elsewhere.
import fs from 'node:fs';

function childrenByParent(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = map.get(ppid) ?? [];
      list.push(Number(name));
      map.set(ppid, list);
    } catch {
      // the process ended meanwhile
    }
  }
  return map;
}

/** Whether the kernel lists each thread's children (CONFIG_PROC_CHILDREN): far cheaper than reading every process. */
const HAS_CHILDREN_FILES = fs.existsSync(`/proc/self/task/${process.pid}/children`);

/** The children of `pid`, from its threads' children files. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      for (const child of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) if (child) found.push(Number(child));
    }
  } catch {
    // gone meanwhile
  }
  return found;
}

/** `root` and its descendants. */
function treeOf(root: number): number[] {
  const children = HAS_CHILDREN_FILES ? undefined : childrenByParent();
  const tree: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    tree.push(pid);
    stack.push(...(children ? (children.get(pid) ?? []) : childrenOf(pid)));
  }
  return tree;
}

/** The PSS of `root` and every descendant, in kB; undefined without /proc. */
export function treePssKb(root: number): number | undefined {
  if (!fs.existsSync('/proc/self/smaps_rollup')) return undefined;
  let total = 0;
  for (const pid of treeOf(root)) {
    try {
      const match = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (match) total += Number(match[1]);
    } catch {
      // gone, or not ours to read
    }
  }
  return total;
}

/**
 * User + system CPU seconds of `root` and its live descendants, plus what `root` has collected from children
 * that ended (cutime, cstime: Postfix's master reaps its smtpd and cleanup processes).
 */
export function treeCpuSeconds(root: number): number | undefined {
  if (!fs.existsSync(`/proc/${root}/stat`)) return undefined;
  let ticks = 0;
  for (const pid of treeOf(root)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
      if (pid === root) ticks += Number(fields[13]) + Number(fields[14]); // cutime, cstime
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100; // USER_HZ
}

/** Samples a tree's PSS every `intervalMs` and keeps the peak. */
export class PeakPss {
  #peakKb: number | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #root: () => number | undefined;

  constructor(root: () => number | undefined, intervalMs = 250) {
    this.#root = root;
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): void {
    const root = this.#root();
    if (root === undefined) return;
    const kb = treePssKb(root);
    if (kb !== undefined && kb > 0) this.#peakKb = Math.max(this.#peakKb ?? 0, kb);
  }

  /** Stops sampling (after one last sample) and returns the peak in kB. */
  stop(): number | undefined {
    this.sample();
    clearInterval(this.#timer);
    return this.#peakKb;
  }
}

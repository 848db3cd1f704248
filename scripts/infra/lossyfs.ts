// lossyfs (lossyfs.py) from Node: installs what it needs on first use — Debian's fuse3
// (libfuse 3 and fusermount3) and mfusepy from PyPI into the cache — and mounts, cuts
// the power, and unmounts. Used by the power-cut fault scenario.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const MFUSEPY_VERSION = '3.1.1';
const script = resolve(import.meta.dirname, 'lossyfs.py');

export interface LossyFs {
  /** Counts everything written so far as on disk (as the kernel's writeback would, given time). */
  settle(): Promise<void>;
  /** Truncates every file to what was on disk at its last fsync (or settle); the mount stays. */
  powerCut(): Promise<{ cut: number; dropped: number }>;
  unmount(): Promise<void>;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Installs fuse3 and mfusepy when missing; returns the PYTHONPATH holding mfusepy. */
export function ensureLossyFs(cacheDir: string): string {
  if (!existsSync('/dev/fuse')) throw new Error('no /dev/fuse: this machine cannot mount FUSE filesystems');
  if (!have('fusermount3')) {
    const r = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`installing fuse3 failed:\n${r.stdout}${r.stderr}`);
  }
  const lib = join(cacheDir, `pylib-mfusepy-${MFUSEPY_VERSION}`);
  if (!existsSync(join(lib, 'mfusepy.py'))) {
    const r = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', lib, `mfusepy==${MFUSEPY_VERSION}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`pip install mfusepy failed:\n${r.stdout}${r.stderr}`);
  }
  return lib;
}

function mounted(mountPoint: string): boolean {
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mountPoint);
}

export async function mountLossyFs(cacheDir: string, backing: string, mountPoint: string): Promise<LossyFs> {
  const pythonPath = ensureLossyFs(cacheDir);
  const child: ChildProcess = spawn('python3', [script, backing, mountPoint], { env: { ...process.env, PYTHONPATH: pythonPath }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
  const lines = createInterface({ input: child.stdout! });
  const cuts: ((r: { cut: number; dropped: number }) => void)[] = [];
  const settles: (() => void)[] = [];
  lines.on('line', (l) => {
    const m = JSON.parse(l) as { cut?: number; dropped?: number; settled?: number };
    if (m.cut !== undefined) cuts.shift()?.({ cut: m.cut, dropped: m.dropped ?? 0 });
    if (m.settled !== undefined) settles.shift()?.();
  });
  const deadline = Date.now() + 10_000;
  while (!mounted(mountPoint)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`lossyfs did not mount ${mountPoint}:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    settle: () => new Promise((res) => {
      settles.push(res);
      child.stdin!.write('sync\n');
    }),
    powerCut: () => new Promise((res) => {
      cuts.push(res);
      child.stdin!.write('cut\n');
    }),
    async unmount() {
      // The kernel may still hold pages of what was cut: a fresh mount reads the backing files.
      spawnSync('fusermount3', ['-u', mountPoint]);
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

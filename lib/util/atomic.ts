/**
 * All-or-nothing file and directory writes: the content goes to a temporary name in
 * the same directory (same file system, so the final `rename` is atomic), is flushed
 * to disk, and only then takes the target's name. A kill, a full disk or a content
 * generator that throws leaves the previous file (or directory) as it was, and the
 * temporary one is removed on every error this process sees.
 *
 * Temporary names start with `.` and contain `.tmp-<pid>-`, so a directory listing
 * that skips dot-files never shows them.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";

/** What {@linkcode writeFileAtomic} writes: text, bytes, or chunks of either. */
export type AtomicContent =
  | string
  | Uint8Array
  | Iterable<string | Uint8Array>
  | AsyncIterable<string | Uint8Array>;

/**
 * A fresh temporary path beside `target` (same directory, hidden, unique per call).
 * @param target The file or directory that will be replaced.
 * @returns An absolute path in the same directory.
 * @example
 * ```ts
 * tempPathBeside("/data/reports/a.html"); // "/data/reports/.a.html.tmp-4242-1a2b3c4d"
 * ```
 */
export function tempPathBeside(target: string): string {
  const abs = resolve(target);
  const tag = crypto.getRandomValues(new Uint32Array(1))[0].toString(16).padStart(8, "0");
  return join(dirname(abs), `.${basename(abs)}.tmp-${Deno.pid}-${tag}`);
}

/**
 * Writes a file all or nothing: to a temporary file in the same directory, flushed,
 * then renamed over `path`. The parent directory is created when missing.
 *
 * @param path The file to write (relative paths resolve against the working directory).
 * @param data Text (UTF-8), bytes, or an (async) iterable of chunks; an iterable that
 *   throws leaves `path` untouched.
 * @param options `mode` of the new file (default `0o644`, less the umask).
 * @returns The absolute path written.
 * @throws The write's or the generator's error, after removing the temporary file.
 * @example
 * ```ts
 * await writeFileAtomic("data/reports/eval.html", html);
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: AtomicContent,
  options: { mode?: number } = {},
): Promise<string> {
  const abs = resolve(path);
  await Deno.mkdir(dirname(abs), { recursive: true });
  const tmp = tempPathBeside(abs);
  const encoder = new TextEncoder();
  try {
    const file = await Deno.open(tmp, {
      write: true,
      createNew: true,
      mode: options.mode ?? 0o644,
    });
    try {
      const put = async (chunk: string | Uint8Array) => {
        const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
        for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
      };
      if (typeof data === "string" || data instanceof Uint8Array) await put(data);
      else if (Symbol.asyncIterator in data) { for await (const c of data) await put(c); }
      else for (const c of data) await put(c);
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, abs);
  } catch (e) {
    await Deno.remove(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dirname(abs));
  return abs;
}

/** Options of {@linkcode replaceDirAtomic}. */
export interface ReplaceDirOptions {
  /**
   * What to do when the target exists and is not empty: `"refuse"` (default) throws a
   * {@linkcode DirectoryNotEmptyError}; `"replace"` swaps the new directory in and
   * removes the old one afterwards.
   */
  ifExists?: "refuse" | "replace";
}

/** The target of {@linkcode replaceDirAtomic} exists and holds files. */
export class DirectoryNotEmptyError extends RangeError {
  /** The directory that was not empty. */
  readonly dir: string;
  /**
   * @param dir The directory.
   * @param message The message (default: names the directory).
   */
  constructor(dir: string, message = `${dir} exists and is not empty`) {
    super(message);
    this.name = "DirectoryNotEmptyError";
    this.dir = dir;
  }
}

/**
 * Whether `dir` is missing or an empty directory (a file there counts as taken).
 * @param dir A path.
 * @returns True when a directory may be created there without losing anything.
 * @example
 * ```ts
 * if (!(await isFreeDir("data/models/m"))) throw new Error("taken");
 * ```
 */
export async function isFreeDir(dir: string): Promise<boolean> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    throw e;
  }
  if (!info.isDirectory) return false;
  for await (const _ of Deno.readDir(dir)) return false;
  return true;
}

/**
 * Creates a directory all or nothing: `fill` writes the files into a temporary
 * directory beside `dir`, the files are flushed, and the temporary directory is then
 * renamed to `dir`. When `fill` (or anything else) throws, the temporary directory is
 * removed and `dir` is as before.
 *
 * @param dir The directory to create (or replace, see {@linkcode ReplaceDirOptions}).
 * @param fill Writes the content into the directory it is given.
 * @param options See {@linkcode ReplaceDirOptions}.
 * @returns The absolute directory.
 * @throws {DirectoryNotEmptyError} When `dir` holds files and `ifExists` is `"refuse"`
 *   (checked before `fill` runs and again by the rename itself).
 * @example
 * ```ts
 * await replaceDirAtomic("data/models/m-v1", async (tmp) => {
 *   await Deno.writeFile(`${tmp}/weights.bin`, bytes);
 * });
 * ```
 */
export async function replaceDirAtomic(
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
  options: ReplaceDirOptions = {},
): Promise<string> {
  const abs = resolve(dir);
  const replace = options.ifExists === "replace";
  if (!replace && !(await isFreeDir(abs))) throw new DirectoryNotEmptyError(abs);
  await Deno.mkdir(dirname(abs), { recursive: true });
  const tmp = tempPathBeside(abs);
  let old: string | null = null;
  try {
    await Deno.mkdir(tmp);
    await fill(tmp);
    for await (const e of Deno.readDir(tmp)) {
      if (!e.isFile) continue;
      const f = await Deno.open(join(tmp, e.name), { read: true });
      try {
        await f.sync();
      } finally {
        f.close();
      }
    }
    await syncDir(tmp);
    if (replace && !(await isFreeDir(abs))) {
      old = tempPathBeside(abs);
      await Deno.rename(abs, old);
    }
    try {
      // rename(2) replaces an empty directory and refuses a non-empty one.
      await Deno.rename(tmp, abs);
    } catch (e) {
      if (old) await Deno.rename(old, abs).catch(() => undefined);
      old = null;
      if (!(await isFreeDir(abs).catch(() => true))) {
        throw new DirectoryNotEmptyError(abs, `${abs} was filled by someone else meanwhile`);
      }
      throw e;
    }
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
    throw e;
  }
  await syncDir(dirname(abs));
  if (old) await Deno.remove(old, { recursive: true }).catch(() => undefined);
  return abs;
}

/** Flushes a directory entry (the rename) to disk where the platform allows it. */
async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}

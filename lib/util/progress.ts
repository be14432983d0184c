/**
 * A progress bar for long work: redraws in place on a terminal, prints a line every
 * few seconds otherwise (CI logs, notebooks), and is silent when disabled.
 *
 * @module
 */

/** Options of {@linkcode Progress}. */
export interface ProgressOptions {
  /** Total units of work; `0` for unknown. Default 0. */
  total?: number;
  /** Unit shown after the counts. Default `""`. */
  unit?: string;
  /** Write nothing (for `--json` runs). Default false. */
  silent?: boolean;
  /** Seconds between lines when stderr is not a terminal. Default 5. */
  lineEvery?: number;
}

/** A progress bar written to stderr. */
export class Progress {
  #label: string;
  #total: number;
  #unit: string;
  #silent: boolean;
  #tty: boolean;
  #lineEvery: number;
  #done = 0;
  #started = performance.now();
  #lastDraw = 0;
  #note = "";
  #encoder = new TextEncoder();

  /**
   * @param label What is being done, e.g. `"ingest"`.
   * @param options See {@linkcode ProgressOptions}.
   * @example
   * ```ts
   * const bar = new Progress("ingest", { total: 41, unit: "files" });
   * bar.tick(1, "AAPL");
   * bar.finish();
   * ```
   */
  constructor(label: string, options: ProgressOptions = {}) {
    this.#label = label;
    this.#total = options.total ?? 0;
    this.#unit = options.unit ?? "";
    this.#silent = options.silent ?? false;
    this.#lineEvery = (options.lineEvery ?? 5) * 1000;
    let tty = false;
    try {
      tty = Deno.stderr.isTerminal();
    } catch { /* not a terminal */ }
    this.#tty = tty;
  }

  /** Units completed so far. */
  get done(): number {
    return this.#done;
  }

  /** Changes the total (when it becomes known). */
  setTotal(total: number): void {
    this.#total = total;
  }

  /**
   * Adds completed units and redraws when due.
   * @param n Units just completed. Default 1.
   * @param note A short status shown after the bar (symbol, loss …).
   */
  tick(n = 1, note?: string): void {
    this.#done += n;
    if (note !== undefined) this.#note = note;
    this.#draw(false);
  }

  /**
   * Sets the status text without completing units.
   * @param note A short status shown after the bar.
   */
  note(note: string): void {
    this.#note = note;
    this.#draw(false);
  }

  /** Draws the final state and ends the line. */
  finish(note?: string): void {
    if (note !== undefined) this.#note = note;
    this.#draw(true);
  }

  #draw(final: boolean): void {
    if (this.#silent) return;
    const now = performance.now();
    const due = final ||
      (this.#tty ? now - this.#lastDraw > 100 : now - this.#lastDraw > this.#lineEvery);
    if (!due) return;
    this.#lastDraw = now;
    const secs = (now - this.#started) / 1000;
    const rate = secs > 0 ? this.#done / secs : 0;
    let bar = "";
    let eta = "";
    if (this.#total > 0) {
      const frac = Math.min(1, this.#done / this.#total);
      const width = 24;
      const full = Math.round(frac * width);
      bar = `[${"#".repeat(full)}${"-".repeat(width - full)}] ${
        (frac * 100).toFixed(0).padStart(3)
      }% `;
      if (rate > 0 && !final) eta = ` eta ${formatSeconds((this.#total - this.#done) / rate)}`;
    }
    const counts = this.#total > 0 ? `${this.#done}/${this.#total}` : `${this.#done}`;
    const line = `${this.#label} ${bar}${counts}${this.#unit ? " " + this.#unit : ""} ` +
      `${formatRate(rate)}/s ${formatSeconds(secs)}${eta}${this.#note ? "  " + this.#note : ""}`;
    const text = this.#tty ? `\r\x1b[2K${line}${final ? "\n" : ""}` : `${line}\n`;
    Deno.stderr.writeSync(this.#encoder.encode(text));
  }
}

function formatRate(r: number): string {
  return r >= 1000 ? `${(r / 1000).toFixed(1)}k` : r.toFixed(r >= 10 ? 0 : 1);
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60).toString().padStart(2, "0")}s`;
}

/**
 * Bars the loopback gateway serves: CSV files (the shared daily and hourly folders or
 * any `timestamp|date|datetime,open,high,low,close[,adjusted_close],volume` file) and
 * deterministic generated bars for any other symbol.
 *
 * @module
 */
import { basename, join } from "node:path";

/** One bar as the gateway holds it. */
export interface GatewayBar {
  /** Epoch ms UTC: a daily bar at its date 00:00 UTC, an intraday bar at its start. */
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

const DAY = 86_400_000;

/** A symbol/bar-size series in a CSV file, parsed on first use. */
interface FileEntry {
  path: string;
  symbol: string;
  barSize: string;
  parsed?: { trades: GatewayBar[]; adjusted: GatewayBar[] };
}

/**
 * Indexes the CSV files of some directories by symbol and bar size (from the file
 * name: `DA-<SYM>-….csv` daily, `<SYM>_1h.csv` hourly, `<SYM>.csv` daily).
 */
export class CsvBars {
  #files = new Map<string, FileEntry>();

  /** @param dirs Directories to scan (missing ones are ignored). */
  constructor(dirs: string[]) {
    for (const dir of dirs) {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(dir)];
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isFile || !e.name.toLowerCase().endsWith(".csv")) continue;
        const name = basename(e.name, ".csv");
        let m = /^DA-([A-Z0-9.]+)-/i.exec(name);
        let symbol: string, barSize: string;
        if (m) [symbol, barSize] = [m[1], "1 day"];
        else if ((m = /^([A-Z0-9.]+)_1h$/i.exec(name))) [symbol, barSize] = [m[1], "1 hour"];
        else [symbol, barSize] = [name, "1 day"];
        symbol = symbol.toUpperCase();
        this.#files.set(`${symbol}|${barSize}`, { path: join(dir, e.name), symbol, barSize });
      }
    }
  }

  /** `SYMBOL (bar size)` of every file found. */
  describe(): string[] {
    return [...this.#files.values()].map((f) => `${f.symbol} (${f.barSize})`).sort();
  }

  /** Symbols with a file of this bar size. */
  symbols(barSize: string): string[] {
    return [...this.#files.values()].filter((f) => f.barSize === barSize).map((f) => f.symbol)
      .sort();
  }

  /**
   * The whole series of a symbol, ascending.
   * @param symbol Ticker.
   * @param barSize IB bar size.
   * @param whatToShow `TRADES` (split-adjusted when the file has split coefficients, like IB)
   *   or `ADJUSTED_LAST` (back-adjusted by `adjusted_close / close`).
   * @returns The bars, or `undefined` when no file has them.
   */
  bars(symbol: string, barSize: string, whatToShow: string): GatewayBar[] | undefined {
    const f = this.#files.get(`${symbol}|${barSize}`);
    if (!f) return undefined;
    f.parsed ??= parseCsv(f.path, barSize);
    return whatToShow === "ADJUSTED_LAST" ? f.parsed.adjusted : f.parsed.trades;
  }
}

function parseCsv(path: string, barSize: string): { trades: GatewayBar[]; adjusted: GatewayBar[] } {
  const lines = Deno.readTextFileSync(path).replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) =>
    l.trim()
  );
  const header = lines[0].split(",").map((h) => h.trim().toLowerCase());
  const col = (...names: string[]) => header.findIndex((h) => names.includes(h));
  const it = col("timestamp", "date", "datetime", "time");
  const io = col("open"), ih = col("high"), il = col("low"), ic = col("close"), iv = col("volume");
  const ia = col("adjusted_close", "adj close", "adj_close");
  const is = col("split_coefficient", "stock splits");
  if ([it, io, ih, il, ic, iv].some((i) => i < 0)) {
    throw new SyntaxError(`${path}: missing OHLCV columns in "${lines[0]}"`);
  }
  const rows: {
    t: number;
    o: number;
    h: number;
    l: number;
    c: number;
    v: number;
    k: number;
    split: number;
  }[] = [];
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].split(",");
    const raw = f[it].trim();
    const t = /^\d{4}-\d{2}-\d{2}$/.test(raw)
      ? Date.parse(`${raw}T00:00:00Z`)
      : Date.parse(raw.replace(" ", "T"));
    if (Number.isNaN(t)) throw new SyntaxError(`${path} line ${i + 1}: bad time "${raw}"`);
    const c = Number(f[ic]);
    const split = is >= 0 ? Number(f[is]) || 0 : 0;
    rows.push({
      t: barSize === "1 day" ? Math.floor(t / DAY) * DAY : t,
      o: Number(f[io]),
      h: Number(f[ih]),
      l: Number(f[il]),
      c,
      v: Number(f[iv]),
      k: ia >= 0 ? Number(f[ia]) / c : 1,
      split: split > 0 && split !== 1 ? split : 1,
    });
  }
  rows.sort((a, b) => a.t - b.t);
  // Split-adjust like IB's TRADES: divide prices before a split by the later splits' product.
  const trades: GatewayBar[] = new Array(rows.length);
  let factor = 1;
  for (let i = rows.length - 1; i >= 0; i--) {
    const r = rows[i];
    trades[i] = {
      time: r.t,
      open: r.o / factor,
      high: r.h / factor,
      low: r.l / factor,
      close: r.c / factor,
      volume: r.v * factor,
    };
    factor *= r.split;
  }
  const adjusted = rows.map((r) => ({
    time: r.t,
    open: r.o * r.k,
    high: r.h * r.k,
    low: r.l * r.k,
    close: r.c * r.k,
    volume: r.v / r.k,
  }));
  return { trades, adjusted };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function unit(seed: number, t: number): number {
  let x = (seed ^ Math.floor(t / 1000)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

const nyParts = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  hourCycle: "h23",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  weekday: "short",
});

/** New York weekday, hour and minute of an instant. */
export function newYorkTime(ms: number): { weekday: string; minutes: number } {
  const p = Object.fromEntries(nyParts.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { weekday: p.weekday, minutes: Number(p.hour) * 60 + Number(p.minute) };
}

/** True when an intraday bar starts in the regular session (Mon–Fri, 09:30 ≤ NY time < 16:00). */
export function isRegularSession(ms: number): boolean {
  const { weekday, minutes } = newYorkTime(ms);
  return weekday !== "Sat" && weekday !== "Sun" && minutes >= 570 && minutes < 960;
}

/**
 * Deterministic bars for any symbol: weekdays for daily bars (00:00 UTC), regular
 * session for intraday bars, prices a smooth function of time plus hashed noise, so
 * the same bar has the same values whatever window asks for it.
 *
 * @param symbol Ticker (seeds the series).
 * @param barSeconds Bar length in seconds.
 * @param from Inclusive start, epoch ms.
 * @param to Exclusive end, epoch ms.
 * @returns Bars in `[from, to)`, ascending.
 */
export function generatedBars(
  symbol: string,
  barSeconds: number,
  from: number,
  to: number,
): GatewayBar[] {
  const seed = hash(symbol);
  const base = 20 + (seed % 400);
  const price = (t: number) =>
    base * (1 + 0.25 * Math.sin(t / (90 * DAY) + (seed % 7)) + 0.03 * (unit(seed, t) - 0.5));
  const out: GatewayBar[] = [];
  const daily = barSeconds >= 86_400;
  const step = barSeconds * 1000;
  for (let day = Math.floor(from / DAY) * DAY; day < to; day += DAY) {
    const wd = new Date(day).getUTCDay();
    if (wd === 0 || wd === 6) continue;
    const times: number[] = [];
    if (daily) times.push(day);
    else {
      for (let t = day; t < day + DAY; t += step) if (isRegularSession(t)) times.push(t);
    }
    for (const t of times) {
      if (t < from || t >= to) continue;
      const o = round2(price(t)), c = round2(price(t + Math.min(step, DAY / 4)));
      const h = round2(Math.max(o, c) * (1 + 0.01 * unit(seed + 1, t)) + 0.01);
      const l = round2(Math.min(o, c) * (1 - 0.01 * unit(seed + 2, t)) - 0.01);
      out.push({
        time: t,
        open: o,
        high: h,
        low: Math.max(0.01, l),
        close: c,
        volume: 1000 + Math.floor(unit(seed + 3, t) * 1e6),
      });
    }
  }
  return out;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

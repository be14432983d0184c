/**
 * Watchlist files: one symbol per line, optionally `SYMBOL,PRIMARY_EXCHANGE`,
 * `#` starts a comment, blank lines are ignored.
 *
 * @module
 */

/** One watchlist entry. */
export interface WatchlistEntry {
  /** Upper-case ticker. */
  symbol: string;
  /** Primary listing exchange (e.g. `NASDAQ`, `NYSE`, `ARCA`), when given. */
  primaryExchange?: string;
}

const SYMBOL = /^[A-Z0-9][A-Z0-9.\-/ ]{0,23}$/;
const EXCHANGE = /^[A-Z0-9.]{2,16}$/;

/**
 * Parses watchlist text.
 * @param text File contents.
 * @param source Name used in error messages (the file path).
 * @returns Entries in file order.
 * @throws SyntaxError naming the line for a malformed or duplicated entry.
 * @example
 * ```ts
 * parseWatchlist("AAPL\nSPY,ARCA  # ETF\n", "list.txt");
 * // [{ symbol: "AAPL" }, { symbol: "SPY", primaryExchange: "ARCA" }]
 * ```
 */
export function parseWatchlist(text: string, source = "watchlist"): WatchlistEntry[] {
  const out: WatchlistEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const fields = line.split(",").map((f) => f.trim());
    const where = `${source} line ${i + 1}`;
    if (fields.length > 2) {
      throw new SyntaxError(`${where}: expected SYMBOL or SYMBOL,PRIMARY_EXCHANGE; got "${line}"`);
    }
    const symbol = fields[0].toUpperCase();
    if (!SYMBOL.test(symbol)) {
      throw new SyntaxError(`${where}: "${fields[0]}" is not a ticker symbol`);
    }
    const entry: WatchlistEntry = { symbol };
    if (fields.length === 2) {
      const ex = fields[1].toUpperCase();
      if (!EXCHANGE.test(ex)) {
        throw new SyntaxError(`${where}: "${fields[1]}" is not an exchange code`);
      }
      entry.primaryExchange = ex;
    }
    const prev = seen.get(symbol);
    if (prev !== undefined) {
      throw new SyntaxError(`${where}: ${symbol} is already listed on line ${prev}`);
    }
    seen.set(symbol, i + 1);
    out.push(entry);
  });
  return out;
}

/**
 * Reads a watchlist file.
 * @param path File path.
 * @returns Entries in file order.
 * @example
 * ```ts
 * const list = await readWatchlist("lib/data/ibkr/watchlist_us50.txt");
 * ```
 */
export async function readWatchlist(path: string): Promise<WatchlistEntry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`Cannot read watchlist ${path}: ${(e as Error).message}`, { cause: e });
  }
  const list = parseWatchlist(text, path);
  if (list.length === 0) throw new SyntaxError(`Watchlist ${path} has no symbols`);
  return list;
}

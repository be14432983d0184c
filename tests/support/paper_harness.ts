/**
 * The paper broker as a broker-contract harness (the shape of `BrokerHarness` in
 * `tests/support/broker_contract.ts`): a market of two symbols at fixed reference prices,
 * whose `advance()` feeds the next daily bar so that pending marketable orders fill.
 *
 * @module
 */
import {
  type Broker,
  type PaperBar,
  PaperBroker,
  type PaperBrokerOptions,
} from "@lib/execution/mod.ts";

/** What the contract suite drives (structurally `BrokerHarness`). */
export interface PaperHarness {
  broker: Broker;
  prices: Record<string, number>;
  advance(): Promise<void>;
  close(): Promise<void>;
  /** A quantity of the first symbol that fills over several bars (above the volume share). */
  partialFillQuantity: number;
}

/**
 * A fresh paper broker with one bar already seen (so symbols are known and priced). Each
 * bar trades 1,000 shares per symbol, so with the default volume share (0.1) an order of
 * up to 100 shares fills in one bar and `partialFillQuantity` (250) in three.
 * @param options Paper broker options (default: whole shares, margin, no volume cap in practice).
 * @returns The harness.
 * @example
 * ```ts
 * brokerContract("paper", () => paperHarness());
 * ```
 */
export function paperHarness(options: PaperBrokerOptions = {}): Promise<PaperHarness> {
  const prices: Record<string, number> = { AAPL: 190, SPY: 270 };
  const broker = new PaperBroker({
    accountId: "PAPER-CONTRACT",
    initialCash: 1_000_000,
    ...options,
  });
  let day = Date.UTC(2018, 0, 2);
  const bars = (): Record<string, PaperBar> =>
    Object.fromEntries(
      Object.entries(prices).map((
        [s, p],
      ) => [s, { open: p, high: p * 1.01, low: p * 0.99, close: p, volume: 1_000 }]),
    );
  broker.onBar(day, bars());
  return Promise.resolve({
    broker,
    prices,
    partialFillQuantity: 250,
    advance() {
      day += 86_400_000;
      broker.onBar(day, bars());
      return Promise.resolve();
    },
    close: () => broker.close(),
  });
}

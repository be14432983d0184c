/**
 * Test helper run as a subprocess: `deno run -A tests/support/hold_store.ts DIR [SYMBOL]`
 * opens the embedded store in DIR, writes one daily bar of SYMBOL when given, prints
 * `ready` and holds the store open until stdin closes (or a line arrives), then closes it.
 * A refused open prints the error message on stderr and exits 1.
 */
import { openStore, upsertPrices } from "@lib/db/mod.ts";

const [dir, symbol] = Deno.args;
let store;
try {
  store = await openStore({ url: "", dataDir: dir, owner: "hold_store test" });
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  Deno.exit(1);
}
if (symbol) {
  await upsertPrices(store, "1 day", {
    instrument: [symbol],
    timestamp: [Date.UTC(2020, 0, 2)],
    open: [1],
    high: [2],
    low: [0.5],
    close: [1.5],
    volume: [100],
  });
}
console.log("ready");
const reader = Deno.stdin.readable.getReader();
await reader.read();
await store.close();
console.log("closed");

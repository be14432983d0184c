/**
 * IbkrBroker against the loopback gateway: live-account refusal, reconnect
 * idempotency (a ref sent before a crash is recognised, the gateway sees it once),
 * and the gateway's order faults (rejection, partial fills, a disconnect between
 * submit and fill, a duplicate order id, a delayed fill), plus no hangs.
 */
import assert from "node:assert/strict";
import { LoopbackGateway, type LoopbackGatewayOptions } from "@lib/data/ibkr/mod.ts";
import {
  type BrokerEvent,
  IbkrBroker,
  type IbkrBrokerOptions,
  LiveAccountRefusedError,
  type OrderRequest,
} from "@lib/execution/mod.ts";
import { loopbackHarness, waitFor } from "./support/broker_contract.ts";

const OPTS = { sanitizeOps: false, sanitizeResources: false };

async function withGateway(
  options: LoopbackGatewayOptions,
  fn: (gw: LoopbackGateway, port: number) => Promise<void>,
): Promise<void> {
  const gw = new LoopbackGateway({ marketStart: "2020-01-06", ...options });
  const { port } = gw.start();
  try {
    await fn(gw, port);
  } finally {
    await gw.stop();
  }
}

function connect(port: number, o: Partial<IbkrBrokerOptions> = {}): Promise<IbkrBroker> {
  return IbkrBroker.connect({ port, clientId: 7, requestTimeoutMs: 3_000, ...o });
}

const buy = (ref: string, quantity = 5, symbol = "AAPL"): OrderRequest => ({
  ref,
  symbol,
  side: "BUY",
  quantity,
  type: "MKT",
});

Deno.test({
  name: "ibkr: a live account is refused without --live and the matching --account",
  ...OPTS,
  fn: () =>
    withGateway({ account: "U1234567" }, async (gw, port) => {
      await assert.rejects(() => connect(port), (e: Error) => {
        assert.ok(e instanceof LiveAccountRefusedError, String(e));
        assert.match(e.message, /U1234567 .*LIVE.*--live --account U1234567/);
        return true;
      });
      await assert.rejects(() => connect(port, { live: true }), LiveAccountRefusedError);
      await assert.rejects(
        () => connect(port, { live: true, account: "U7654321" }),
        /U7654321 was asked for but .* manages U1234567/,
      );
      await assert.rejects(() => connect(port, { account: "U1234567" }), /LIVE/);
      assert.equal(gw.trading.ordersReceived, 0);
      const b = await connect(port, { live: true, account: "U1234567" });
      try {
        assert.equal(b.accountId, "U1234567");
        assert.equal(b.live, true);
      } finally {
        await b.close();
      }
    }),
});

Deno.test({
  name: "ibkr: a paper account is taken as reported; a different --account is refused",
  ...OPTS,
  fn: () =>
    withGateway({ account: "DU7777777" }, async (_gw, port) => {
      await assert.rejects(() => connect(port, { account: "DU1111111" }), LiveAccountRefusedError);
      const b = await connect(port);
      try {
        assert.equal(b.accountId, "DU7777777");
        assert.equal(b.live, false);
        assert.equal((await b.account()).accountId, "DU7777777");
      } finally {
        await b.close();
      }
    }),
});

Deno.test({
  name: "ibkr: after a crash a new client recognises every ref and the gateway saw each once",
  ...OPTS,
  fn: () =>
    withGateway({}, async (gw, port) => {
      const b1 = await connect(port);
      await b1.submit(buy("tt:1:202001060000:AAPL", 5));
      await gw.advance();
      await waitFor("the fill", async () =>
        (await b1.order("tt:1:202001060000:AAPL"))?.status === "filled" || undefined);
      const limit = Math.round(gw.markPrice("MSFT")! * 50) / 100;
      await b1.submit({
        ref: "tt:1:202001060000:MSFT",
        symbol: "MSFT",
        side: "BUY",
        quantity: 3,
        type: "LMT",
        limitPrice: limit,
      });
      await b1.submit({
        ref: "tt:1:202001060000:IBM",
        symbol: "IBM",
        side: "SELL",
        quantity: 2,
        type: "MOC",
      });
      await b1.submit({ ...buy("tt:1:202001060000:KO", 2, "KO"), type: "LMT", limitPrice: 1 });
      await b1.cancel("tt:1:202001060000:KO");
      await b1.submit(buy("tt:1:202001060000:XOM", 1e7, "XOM")); // beyond buying power
      gw.dropConnections(); // the process dies without recording anything
      await waitFor("the drop", () =>
        b1.connected ? undefined : true);

      for (const clientId of [7, 8]) { // the same client id, then another one
        const b2 = await connect(port, { clientId });
        try {
          const filled = await b2.order("tt:1:202001060000:AAPL");
          assert.equal(filled?.status, "filled", "learned from completed orders");
          assert.equal(filled?.filled, 5);
          assert.deepEqual(filled?.request, buy("tt:1:202001060000:AAPL", 5));
          assert.equal(filled?.brokerOrderId, gw.book().orders[0].orderId, "id from executions");
          assert.equal(filled?.avgFillPrice, gw.book().executions[0].price);
          const cancelled = await b2.order("tt:1:202001060000:KO");
          assert.equal(cancelled?.status, "cancelled");
          assert.equal(cancelled?.request.limitPrice, 1);
          const refused = await b2.order("tt:1:202001060000:XOM");
          assert.equal(refused?.status, "rejected");
          assert.match(refused?.reason ?? "", /YOUR ORDER IS NOT ACCEPTED/);
          const working = await b2.order("tt:1:202001060000:MSFT");
          assert.equal(working?.status, "submitted", "learned from open orders");
          assert.deepEqual(working?.request, {
            ref: "tt:1:202001060000:MSFT",
            symbol: "MSFT",
            side: "BUY",
            quantity: 3,
            type: "LMT",
            limitPrice: limit,
          });
          assert.equal((await b2.order("tt:1:202001060000:IBM"))?.request.type, "MOC");
          for (
            const ref of [
              "tt:1:202001060000:AAPL",
              "tt:1:202001060000:MSFT",
              "tt:1:202001060000:KO",
              "tt:1:202001060000:XOM",
            ]
          ) {
            const again = await b2.submit(buy(ref, 5));
            assert.equal(again.ref, ref);
            assert.equal(gw.orderRefCount(ref), 1, `${ref} reached the gateway once`);
          }
          assert.equal((await b2.executions()).length, 1);
          assert.deepEqual(b2.notices.filter((n) => /Decoding|Underrun/i.test(n.message)), []);
          assert.deepEqual((await b2.positions()).map((p) => [p.symbol, p.quantity]), [[
            "AAPL",
            5,
          ]]);
        } finally {
          await b2.close();
        }
      }
      assert.equal(gw.trading.ordersReceived, 5);
    }),
});

Deno.test({
  name: "ibkr fault: a disconnect between submit and fill; the order lives on and fills",
  ...OPTS,
  fn: () =>
    withGateway({ faults: { disconnectOnOrder: 1 } }, async (gw, port) => {
      const b1 = await connect(port);
      const events: BrokerEvent[] = [];
      b1.on((e) => events.push(e));
      const ref = "tt:2:202001060000:AAPL";
      await assert.rejects(() => b1.submit(buy(ref, 4)), /connection .* lost .* may be live/);
      assert.deepEqual(events.filter((e) => e.type === "connection"), [{
        type: "connection",
        connected: false,
      }]);
      assert.equal((await b1.order(ref))?.status, "submitted", "kept as possibly live");
      await assert.rejects(() => b1.positions(), /not connected .*connect a new IbkrBroker/);
      assert.equal(
        (await b1.submit(buy(ref, 4))).ref,
        ref,
        "a known ref is not resent, even offline",
      );
      assert.equal(gw.trading.faultDisconnects, 1);
      const b2 = await connect(port);
      try {
        assert.equal((await b2.order(ref))?.status, "submitted");
        await gw.advance();
        await b2.openOrders();
        assert.equal((await b2.order(ref))?.status, "filled");
        assert.equal(gw.orderRefCount(ref), 1);
      } finally {
        await b1.close();
        await b2.close();
      }
    }),
});

Deno.test({
  name: "ibkr fault: a rejection carries IB's code and message",
  ...OPTS,
  fn: () =>
    withGateway({
      faults: {
        rejectSymbols: ["MSFT"],
        rejectMessage: "Order rejected - reason:no shorting today",
      },
    }, async (_gw, port) => {
      const b = await connect(port);
      try {
        const errors: BrokerEvent[] = [];
        b.on((e) => e.type === "error" && errors.push(e));
        const s = await b.submit(buy("tt:3:202001060000:MSFT", 1, "MSFT"));
        assert.equal(s.status, "rejected");
        assert.equal(s.reason, "IB 201: Order rejected - reason:no shorting today");
        assert.deepEqual(errors, [{
          type: "error",
          code: 201,
          message: "Order rejected - reason:no shorting today",
          ref: "tt:3:202001060000:MSFT",
        }]);
        assert.equal((await b.submit(buy("tt:3:202001060000:AAPL", 1))).status, "submitted");
        const unknown = await b.submit({ ...buy("tt:3:x:BAD", 1), symbol: "BAD" });
        assert.equal(unknown.status, "submitted", "generated bars: any symbol trades");
      } finally {
        await b.close();
      }
    }),
});

Deno.test({
  name: "ibkr fault: a duplicate order id (103) is retried once with a fresh id",
  ...OPTS,
  fn: () =>
    withGateway({ faults: { duplicateOrderIds: 1 } }, async (gw, port) => {
      const b = await connect(port);
      try {
        const codes: number[] = [];
        b.on((e) => e.type === "error" && codes.push(e.code ?? 0));
        const ref = "tt:4:202001060000:AAPL";
        const s = await b.submit(buy(ref, 2));
        assert.equal(s.status, "submitted");
        assert.deepEqual(codes, [103]);
        assert.equal(gw.trading.duplicateIdErrors, 1);
        assert.equal(gw.orderRefCount(ref), 2, "received twice");
        assert.equal(gw.book().orders.filter((o) => o.orderRef === ref).length, 1, "kept once");
        assert.equal(gw.book().orders[0].orderId, s.brokerOrderId);
      } finally {
        await b.close();
      }
    }),
});

Deno.test({
  name: "ibkr fault: partial fills arrive tick by tick and add up",
  ...OPTS,
  fn: async () => {
    const h = await loopbackHarness({ faults: { maxFillPerTick: 3 } });
    try {
      const ref = "tt:5:202001060000:AAPL";
      await h.broker.submit(buy(ref, 7));
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        await h.advance();
        seen.push((await h.broker.order(ref))!.filled);
      }
      assert.deepEqual(seen, [3, 6, 7]);
      assert.deepEqual(
        h.gateway.book().executions.map((e) => e.shares),
        (await h.broker.executions()).map((f) => f.quantity),
      );
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "ibkr fault: a delayed fill arrives later; the order stays submitted until then",
  ...OPTS,
  fn: async () => {
    const h = await loopbackHarness({ faults: { fillDelayMs: 400 } });
    try {
      const ref = "tt:6:202001060000:AAPL";
      await h.broker.submit(buy(ref, 2));
      const ticking = h.gateway.advance();
      await new Promise((r) => setTimeout(r, 100));
      await h.broker.openOrders();
      assert.equal((await h.broker.order(ref))?.status, "submitted");
      await ticking;
      const done = await waitFor("the delayed fill", async () => {
        const o = await h.broker.order(ref);
        return o?.status === "filled" ? o : undefined;
      });
      assert.equal(done.filled, 2);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "ibkr: no hangs: a silent port and a closed port fail with clear errors in time",
  ...OPTS,
  fn: async () => {
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (silent.addr as Deno.NetAddr).port;
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const c of silent) held.push(c);
      } catch { /* closed */ }
    })();
    const t0 = Date.now();
    await assert.rejects(
      () => IbkrBroker.connect({ port, connectTimeoutMs: 500 }),
      /no managed account and next order id within 500 ms/,
    );
    assert.ok(Date.now() - t0 < 3_000);
    silent.close();
    for (const c of held) c.close();
    await accepting;
    await assert.rejects(
      () => IbkrBroker.connect({ port, connectTimeoutMs: 2_000 }),
      /Cannot connect to IB at 127\.0\.0\.1:\d+/,
    );
    await assert.rejects(() => IbkrBroker.connect({ port: 0 }), /port must be 1\.\.65535/);
  },
});

Deno.test({
  name: "ibkr: the wire decodes cleanly and bad requests are refused before sending",
  ...OPTS,
  fn: async () => {
    const h = await loopbackHarness();
    try {
      const b = h.broker;
      await assert.rejects(() => b.submit({ ...buy("r", 1.5) }), /fractional/);
      await assert.rejects(() => b.submit({ ...buy("r", 0) }), /positive/);
      await assert.rejects(() => b.submit({ ...buy("r", 1), type: "LMT" }), /limitPrice/);
      await assert.rejects(() => b.submit({ ...buy("", 1) }), /ref/);
      assert.equal(h.gateway.trading.ordersReceived, 0);
      await b.submit({ ref: "w1", symbol: "AAPL", side: "BUY", quantity: 3, type: "MOO" });
      await b.submit({ ref: "w2", symbol: "MSFT", side: "SELL", quantity: 2, type: "MOC" });
      await h.advance();
      await b.positions();
      await b.account();
      await b.executions();
      assert.deepEqual(
        b.notices.filter((n) => /Decoding|Underrun|unprocessed/i.test(n.message)),
        [],
      );
      const book = h.gateway.book();
      assert.deepEqual(book.orders.map((o) => [o.orderRef, o.orderType, o.tif]), [
        ["w1", "MKT", "OPG"],
        ["w2", "MOC", "DAY"],
      ]);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "deno task fake-gateway takes orders, fills them as its market moves and counts refs",
  ...OPTS,
  async fn() {
    const root = new URL("..", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${root}tasks/fake_gateway.ts`,
        "--port",
        "0",
        "--quiet",
        "--account",
        "DU5555555",
        "--market-start",
        "2020-01-06",
        "--advance-every",
        "100",
        "--max-fill",
        "4",
      ],
      stdout: "piped",
      stderr: "piped",
      cwd: root,
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/listening on [\d.]+:(\d+)/.test(out)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const port = Number(/listening on [\d.]+:(\d+)/.exec(out)?.[1]);
    assert.ok(port > 0, out);
    assert.match(out, /account DU5555555, market day 2020-01-06/);
    const b = await connect(port);
    try {
      assert.equal(b.accountId, "DU5555555");
      await b.submit(buy("tt:9:202001060000:AAPL", 10));
      const done = await waitFor("fills from the gateway's own ticks", async () => {
        const o = await b.order("tt:9:202001060000:AAPL");
        return o?.status === "filled" ? o : undefined;
      });
      assert.equal(done.filled, 10);
      assert.equal((await b.executions()).length, 3, "4 + 4 + 2 shares");
    } finally {
      await b.close();
    }
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.code, 0);
    const stats = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.deepEqual(stats.orderRefs, { "tt:9:202001060000:AAPL": 1 });
    assert.equal(stats.trading.fills, 3);
  },
});

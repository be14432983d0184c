/**
 * The broker contract (tests/support/broker_contract.ts) run against every broker:
 * IBKR through the loopback gateway over a real socket (and the paper broker, wired in
 * with a second `brokerContract("paper", …)` call).
 */
import { brokerContract, loopbackHarness } from "./support/broker_contract.ts";

brokerContract("ibkr", () => loopbackHarness());

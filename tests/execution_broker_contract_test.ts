/**
 * The broker contract (tests/support/broker_contract.ts) run against every broker:
 * IBKR through the loopback gateway over a real socket, and the paper broker.
 */
import { brokerContract, loopbackHarness } from "./support/broker_contract.ts";
import { paperHarness } from "./support/paper_harness.ts";

brokerContract("ibkr", () => loopbackHarness());
brokerContract("paper", () => paperHarness());

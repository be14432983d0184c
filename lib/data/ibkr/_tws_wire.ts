/**
 * The TWS API wire format as `@stoqey/ib` 1.6.10 speaks it (V100+ framing):
 *
 * - the client opens with `"API\0"` followed by a 4-byte big-endian length and the
 *   version range `"v100..193"`;
 * - every later message, both ways, is a 4-byte big-endian length then the fields,
 *   each terminated by `\0`;
 * - the server's first message carries two fields: its server version and the
 *   connection time.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Frames one message: length prefix + `\0`-terminated fields.
 * @param fields Field values (numbers are written in decimal, booleans as 1/0).
 * @returns Bytes to write.
 */
export function frame(fields: (string | number | boolean | undefined)[]): Uint8Array {
  const body = encoder.encode(
    fields.map((f) => f === undefined ? "" : typeof f === "boolean" ? (f ? "1" : "0") : String(f))
      .join("\0") + "\0",
  );
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Splits a byte stream into the client's handshake and framed messages. */
export class FrameReader {
  #buf = new Uint8Array(0);
  #handshakeDone = false;

  /** Appends received bytes. */
  push(chunk: Uint8Array): void {
    const b = new Uint8Array(this.#buf.length + chunk.length);
    b.set(this.#buf);
    b.set(chunk, this.#buf.length);
    this.#buf = b;
  }

  /**
   * Takes the handshake once it is complete.
   * @returns The version range `{min, max}` or `undefined` if more bytes are needed.
   * @throws SyntaxError when the stream does not start with `API\0`.
   */
  handshake(): { min: number; max: number } | undefined {
    if (this.#handshakeDone) throw new Error("handshake already read");
    if (this.#buf.length < 8) return undefined;
    const magic = decoder.decode(this.#buf.subarray(0, 4));
    if (magic !== "API\0") {
      throw new SyntaxError(`client did not start with "API\\0" (got ${JSON.stringify(magic)})`);
    }
    const len = new DataView(this.#buf.buffer, this.#buf.byteOffset).getUint32(4);
    if (this.#buf.length < 8 + len) return undefined;
    const text = decoder.decode(this.#buf.subarray(8, 8 + len));
    this.#buf = this.#buf.slice(8 + len);
    this.#handshakeDone = true;
    const m = /^v(\d+)(?:\.\.(\d+))?/.exec(text);
    if (!m) throw new SyntaxError(`bad version range ${JSON.stringify(text)}`);
    return { min: Number(m[1]), max: Number(m[2] ?? m[1]) };
  }

  /**
   * Takes the next complete message.
   * @returns Its fields, or `undefined` if more bytes are needed.
   */
  next(): string[] | undefined {
    if (this.#buf.length < 4) return undefined;
    const len = new DataView(this.#buf.buffer, this.#buf.byteOffset).getUint32(0);
    if (this.#buf.length < 4 + len) return undefined;
    const text = decoder.decode(this.#buf.subarray(4, 4 + len));
    this.#buf = this.#buf.slice(4 + len);
    const fields = text.split("\0");
    if (fields[fields.length - 1] === "") fields.pop();
    return fields;
  }
}

/** Message ids the client sends (subset). */
export const OUT = {
  REQ_CONTRACT_DATA: 9,
  REQ_HISTORICAL_DATA: 20,
  CANCEL_HISTORICAL_DATA: 25,
  START_API: 71,
  REQ_HEAD_TIMESTAMP: 87,
  CANCEL_HEAD_TIMESTAMP: 90,
} as const;

/** Message ids the server sends (subset). */
export const IN = {
  ERR_MSG: 4,
  NEXT_VALID_ID: 9,
  CONTRACT_DATA: 10,
  MANAGED_ACCTS: 15,
  HISTORICAL_DATA: 17,
  CONTRACT_DATA_END: 52,
  HEAD_TIMESTAMP: 88,
} as const;

/** A contract as encoded in REQ_HISTORICAL_DATA / REQ_HEAD_TIMESTAMP / REQ_CONTRACT_DATA. */
export interface WireContract {
  conId: number;
  symbol: string;
  secType: string;
  exchange: string;
  primaryExch: string;
  currency: string;
}

/** Reads fields in order, like the client's decoder. */
export class FieldCursor {
  #i = 0;
  constructor(readonly fields: string[]) {}
  str(): string {
    if (this.#i >= this.fields.length) {
      throw new SyntaxError(`message too short: ${JSON.stringify(this.fields)}`);
    }
    return this.fields[this.#i++];
  }
  int(): number {
    const s = this.str();
    return s === "" ? 0 : parseInt(s, 10);
  }
  get rest(): number {
    return this.fields.length - this.#i;
  }
}

/**
 * Reads the contract fields common to REQ_HISTORICAL_DATA and REQ_HEAD_TIMESTAMP
 * (conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange,
 * primaryExch, currency, localSymbol, tradingClass, includeExpired).
 */
export function readContract(c: FieldCursor): WireContract {
  const conId = c.int();
  const symbol = c.str();
  const secType = c.str();
  c.str(); // lastTradeDateOrContractMonth
  c.str(); // strike
  c.str(); // right
  c.str(); // multiplier
  const exchange = c.str();
  const primaryExch = c.str();
  const currency = c.str();
  c.str(); // localSymbol
  c.str(); // tradingClass
  c.str(); // includeExpired
  return { conId, symbol, secType, exchange, primaryExch, currency };
}

// Unit tests of the blotter's pure modules (no browser): the SSE parser, exact prices, the words of
// refusals, and the store's reducer (idempotent, ordered by quote ids, snapshots). Run with
// `node --test tests/js/` (make test does).

import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";

// the store keeps its state in sessionStorage: a Map stands in for it
const storage = new Map();
globalThis.sessionStorage = {
  getItem: (key) => (storage.has(key) ? storage.get(key) : null),
  setItem: (key, value) => storage.set(key, String(value)),
  removeItem: (key) => storage.delete(key),
};

const static_ = "../../gateway/web/static/js";
const { SseParser } = await import(`${static_}/sse.js`);
const { price, priceProblem, priceUnits, countdown } = await import(`${static_}/format.js`);
const { describe } = await import(`${static_}/problems.js`);
const { Store } = await import(`${static_}/store.js`);

test("the SSE parser splits messages, joins data lines, keeps ids, skips comments", () => {
  const messages = [];
  const parser = new SseParser((m) => messages.push(m));
  parser.push(': ping\r\n\r\nid: 3-1\nevent: snapshot\ndata: {"a":\ndata: 1}\n');
  assert.equal(messages.length, 0); // not finished before its blank line
  parser.push("\nid: 3-2\r\nevent: quote_submitted\r\ndata:x\r\n\r\ndata: no id\n\n");
  assert.deepEqual(messages, [
    { id: "3-1", event: "snapshot", data: '{"a":\n1}' },
    { id: "3-2", event: "quote_submitted", data: "x" },
    { id: undefined, event: "message", data: "no id" },
  ]);
});

test("prices are exact and read with two decimals at least", () => {
  assert.equal(price("99.5"), "99.50");
  assert.equal(price("100"), "100.00");
  assert.equal(price("99.515625"), "99.515625");
  assert.equal(priceUnits("99.42"), 9942000000n);
  assert.ok(priceUnits("0.00000001") < priceUnits("0.00000002"));
  assert.equal(priceProblem("99.42"), null);
  assert.match(priceProblem("99,42"), /like 99.515625/);
  assert.match(priceProblem("1.123456789"), /at most 8 decimals/);
  assert.match(priceProblem("0.0"), /greater than zero/);
  assert.equal(countdown(new Date(Date.now() - 1000).toISOString()), "ended");
  assert.match(countdown(new Date(Date.now() + 65_500).toISOString()), /^1:0[45] left$/);
});

test("refusals read as sentences, never as codes", () => {
  const refusal = {
    type: "/problems/quote-not-live",
    title: "Quote not live",
    status: 409,
    reason: "QUOTE_NOT_LIVE",
  };
  assert.match(describe(refusal), /no longer live/);
  const invalid = {
    type: "/problems/validation-error",
    title: "The request is not valid",
    errors: [{ loc: ["body", "price"], msg: "String should match pattern '^[0-9]{1,10}$'" }],
  };
  assert.equal(describe(invalid), "Please check the form: price: is not in the expected format.");
  assert.doesNotMatch(describe({ type: "/problems/cluster-unavailable", title: "x" }), /503/);
});

const me = { user_id: 101, name: "alice", role: "trader" };
const dealer = (user_id, name) => ({ user_id, name });
const rfq = () => ({
  role: "requester",
  rfq_id: 1,
  status: "live",
  side: "buy",
  quantity: 5_000_000,
  instrument: { instrument_id: 1, cusip: "912828YK0" },
  deadline: new Date(Date.now() + 600_000).toISOString(),
  dealers: [
    { dealer: dealer(201, "dealer-a"), state: "invited", quote: null, counter: null },
    { dealer: dealer(202, "dealer-b"), state: "invited", quote: null, counter: null },
  ],
  trade: null,
});
const quoted = (user_id, quote_id, p) => ({
  type: "quote_submitted",
  rfq_id: 1,
  dealer: dealer(user_id, null),
  quote: { quote_id, price: p, valid_until: new Date(Date.now() + 600_000).toISOString() },
});
const message = (seq, data) => ({ id: `1-${seq}`, event: data.type, data: JSON.stringify(data) });

beforeEach(() => storage.clear());

test("events are applied once, in quote-id order, and saved with their id", () => {
  const store = new Store(me);
  store.applyMessage(message(1, { type: "snapshot", reason: "new_stream", instruments: [], rfqs: [] }));
  store.applyMessage(message(2, { type: "rfq_created", rfq: rfq() }));
  store.applyMessage(message(3, quoted(201, 3, "99.5")));
  store.applyMessage(message(4, quoted(201, 5, "99.48")));
  store.applyAction(quoted(201, 3, "99.5")); // a late answer to the first POST changes nothing
  store.applyAction({
    type: "quote_countered",
    rfq_id: 1,
    dealer: dealer(201),
    counter: { counter_id: 4, quote_id: 3, price: "99.4" },
  });
  const a = store.rfqs.get(1).dealers[0];
  assert.equal(a.quote.price, "99.48");
  assert.equal(a.counter, null); // counter 4 answered quote 3, which quote 5 replaced

  const reloaded = new Store(me); // a reload: the same tab's storage
  assert.equal(reloaded.lastEventId, "1-4");
  assert.equal(reloaded.rfqs.get(1).dealers[0].quote.price, "99.48");
  assert.equal(new Store({ ...me, user_id: 999 }).rfqs.size, 0); // another user's state is not theirs
});

test("a snapshot replaces the active RFQs and marks the vanished ones as unknown", () => {
  const store = new Store(me);
  store.applyMessage(message(1, { type: "rfq_created", rfq: rfq() }));
  store.applyMessage(message(2, { type: "rfq_created", rfq: { ...rfq(), rfq_id: 2 } }));
  const live = rfq();
  live.dealers[1] = {
    dealer: dealer(202, "dealer-b"),
    state: "quoted",
    quote: quoted(202, 7, "99.45").quote,
    counter: null,
  };
  store.applyMessage(message(1, { type: "snapshot", reason: "resume_gap", instruments: [], rfqs: [live] }));
  assert.equal(store.rfqs.get(1).dealers[1].quote.price, "99.45");
  assert.equal(store.rfqs.get(2).status, "unknown");
  store.applyHistory([
    { ...rfq(), rfq_id: 2, status: "canceled" },
    { ...rfq(), status: "live" },
  ]);
  assert.equal(store.rfqs.get(2).status, "canceled");
  assert.equal(store.rfqs.get(1).dealers[1].quote.price, "99.45"); // a live view never overrides the stream
});

test("endings are final: a trade is not undone by a late ending", () => {
  const store = new Store(me);
  store.applyMessage(message(1, { type: "rfq_created", rfq: rfq() }));
  store.applyMessage(message(2, { type: "rfq_traded", rfq_id: 1, trade: { trade_id: 1, price: "99.42" } }));
  store.applyMessage(message(3, { type: "rfq_ended", rfq_id: 1, reason: "canceled", at: "x" }));
  assert.equal(store.rfqs.get(1).status, "traded");
});

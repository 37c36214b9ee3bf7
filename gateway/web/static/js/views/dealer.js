// The dealer's view: an inbox of the RFQs addressed to this dealer. Each shows the request, how many
// dealers compete (never who), the deadline, this dealer's own quote and the client's counter to
// it, and how it ended for this dealer (traded with the cover, done away, ...). Nothing here can
// show another dealer's price: the gateway sends a dealer its own part only.

import { h, setAttr, setText, sync, uid } from "../dom.js";
import { now } from "../clock.js";
import { countdown, passed, price, priceProblem, quantity, time, who } from "../format.js";
import { labelled, section, statusClass, statusText, tradeSentence } from "./common.js";

export function dealerView(ctx) {
  const cards = h("div", { class: "inbox-list" });
  const empty = h("p", {
    class: "empty",
    text: "No request for you yet: new ones appear here as they arrive.",
  });
  const root = h("div", { class: "dealer-layout" }, section("Inbox", "inbox", empty, cards));

  function update() {
    const shown = ctx.store.rfqList().filter((r) => r.role === "dealer" && !r.dismissed);
    empty.hidden = shown.length > 0;
    sync(
      cards,
      shown,
      (r) => r.rfq_id,
      () => inboxCard(ctx),
      (el, rfq) => el.update(rfq),
    );
  }

  return { el: root, update };
}

/** "alice buys 5,000,000 912828YK0 (you would sell)". */
function request(rfq) {
  const client = who(rfq.requester);
  const verb = rfq.side === "buy" ? "buys" : "sells";
  const yours = rfq.side === "buy" ? "you would sell" : "you would buy";
  return `${client} ${verb} ${quantity(rfq.quantity)} ${rfq.instrument.cusip} (${yours})`;
}

function inboxCard(ctx) {
  const titleId = uid("rfq");
  const title = h("h3", { id: titleId });
  const status = h("span");
  const what = h("p", { class: "request" });
  const competition = h("span");
  const clock = h("span", { role: "timer", class: "countdown" });
  const mine = h("span", { class: "mine" });
  const validity = h("span", { role: "timer", class: "countdown" });
  const counterText = h("p", { class: "counter-note" });
  const acceptCounter = h("button", { type: "button", class: "primary" });
  const counterBox = h("div", { class: "counter-box", hidden: true }, counterText, acceptCounter);
  const priceField = labelled("Price", { inputmode: "decimal", autocomplete: "off", required: true });
  priceField.input.classList.add("price-input");
  const validFor = labelled(
    "Valid for (seconds, optional)",
    { type: "number", min: "1", step: "1", inputmode: "numeric" },
    "Empty: valid until the deadline.",
  );
  const quoteButton = h("button", { type: "submit", class: "primary" });
  const withdraw = h("button", { type: "button", text: "Withdraw" });
  const pass = h("button", { type: "button", class: "danger", text: "Pass" });
  const form = h(
    "form",
    { class: "quote-form", novalidate: true },
    priceField.field,
    validFor.field,
    h("div", { class: "form-actions" }, quoteButton, withdraw, pass),
  );
  const outcome = h("div", { class: "outcome", hidden: true });
  const dismiss = h("button", { type: "button", class: "quiet", text: "Remove from inbox" });
  const el = h(
    "article",
    { class: "card inbox-card", "aria-labelledby": titleId },
    h("header", { class: "card-head" }, title, status),
    what,
    h("p", { class: "meta" }, competition, " · Deadline: ", clock),
    h("p", { class: "quote-state" }, mine, " ", validity),
    counterBox,
    form,
    outcome,
    h("div", { class: "card-actions" }, dismiss),
  );
  let rfq = null;
  const path = (tail) => `/v1/rfqs/${rfq.rfq_id}${tail}`;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = priceField.input.value.trim();
    const problem = priceProblem(value);
    if (problem) return ctx.fail(`Quote on RFQ ${rfq.rfq_id}`, problem);
    const body = { price: value };
    const seconds = Number(validFor.input.value);
    if (validFor.input.value.trim()) {
      if (!Number.isInteger(seconds) || seconds < 1) {
        return ctx.fail(`Quote on RFQ ${rfq.rfq_id}`, "The validity is a whole number of seconds.");
      }
      body.valid_until = new Date(now() + seconds * 1000).toISOString();
    }
    const quoted = await ctx.act(`Quote on RFQ ${rfq.rfq_id}`, quoteButton, () =>
      ctx.api.post(path("/quotes"), body),
    );
    if (quoted) {
      ctx.store.applyAction(quoted);
      priceField.input.value = "";
    }
  });
  withdraw.addEventListener("click", async () => {
    const done = await ctx.act(`Withdraw on RFQ ${rfq.rfq_id}`, withdraw, () =>
      ctx.api.post(path("/quote/withdraw")),
    );
    if (done) ctx.store.applyAction(done);
  });
  pass.addEventListener("click", async () => {
    const done = await ctx.act(`Pass on RFQ ${rfq.rfq_id}`, pass, () => ctx.api.post(path("/pass")));
    if (done) ctx.store.applyAction(done);
  });
  acceptCounter.addEventListener("click", async () => {
    const counter = rfq.counter;
    const traded = await ctx.act(`Accept the counter on RFQ ${rfq.rfq_id}`, acceptCounter, () =>
      ctx.api.post(path(`/counters/${counter.counter_id}/accept`)),
    );
    if (traded) ctx.store.applyAction(traded);
  });
  dismiss.addEventListener("click", () => {
    rfq.dismissed = true;
    ctx.store.changed("dismissed", rfq, "action");
    ctx.focusMain();
  });

  el.update = (next) => {
    rfq = next;
    const live = rfq.status === "live";
    const open = live && !passed(rfq.deadline);
    const quote = rfq.state === "quoted" ? rfq.quote : null;
    const quoteLive = Boolean(quote && !passed(quote.valid_until));
    setText(title, `RFQ ${rfq.rfq_id} · ${rfq.instrument.cusip}`);
    setText(status, statusText(rfq));
    status.className = statusClass(rfq);
    const description = ctx.store.description(rfq.instrument);
    setText(what, `${request(rfq)}${description ? ` · ${description}` : ""}`);
    const others = rfq.dealer_count - 1;
    setText(
      competition,
      others > 0 ? `${rfq.dealer_count} dealers in competition` : "You are the only dealer asked",
    );
    setText(clock, live ? countdown(rfq.deadline, "passed") : time(rfq.deadline));

    // this dealer's own standing
    let words = "No quote yet.";
    if (rfq.state === "passed") words = "You passed.";
    else if (rfq.state === "withdrawn") words = "You withdrew your quote.";
    else if (quote) words = `Your quote: ${price(quote.price)}${quoteLive ? "" : " (no longer live)"}`;
    setText(mine, words);
    setText(validity, quoteLive && live ? `· valid ${countdown(quote.valid_until, "expired")}` : "");

    const counter = live && quoteLive ? rfq.counter : null;
    counterBox.hidden = !counter;
    if (counter) {
      setText(counterText, `${who(rfq.requester)} counters your quote at ${price(counter.price)}.`);
      setText(acceptCounter, `Accept ${price(counter.price)}`);
      setAttr(
        acceptCounter,
        "aria-label",
        `Accept ${price(counter.price)}, the counter on RFQ ${rfq.rfq_id}`,
      );
    }
    acceptCounter.disabled = !counter || acceptCounter.dataset.busy === "1";

    const canQuote = open && rfq.state !== "passed";
    form.hidden = !canQuote;
    setText(quoteButton, quote ? "Quote again" : "Quote");
    setAttr(quoteButton, "aria-label", `${quote ? "Quote again" : "Quote"} on RFQ ${rfq.rfq_id}`);
    quoteButton.disabled = !canQuote || quoteButton.dataset.busy === "1";
    withdraw.disabled = !(canQuote && quoteLive) || withdraw.dataset.busy === "1";
    setAttr(withdraw, "aria-label", `Withdraw your quote on RFQ ${rfq.rfq_id}`);
    pass.disabled = !canQuote || pass.dataset.busy === "1";
    setAttr(pass, "aria-label", `Pass on RFQ ${rfq.rfq_id}`);

    showOutcome(outcome, rfq, ctx.me);
    dismiss.hidden = live;
    setAttr(dismiss, "aria-label", `Remove from inbox: RFQ ${rfq.rfq_id}`);
  };
  return el;
}

/** How it ended for this dealer, in words: the trade (with the cover), done away, ... */
function showOutcome(box, rfq, me) {
  let heading = null;
  let lines = [];
  if (rfq.status === "traded" && rfq.trade) {
    heading = "Trade confirmed";
    const cover = rfq.trade.cover_price
      ? `Cover (the best other price): ${price(rfq.trade.cover_price)}.`
      : "No other live quote: no cover.";
    const how =
      rfq.trade.kind === "counter_accepted" ? "You accepted the counter." : "The client hit your quote.";
    lines = [
      `${tradeSentence(rfq.trade, me)}.`,
      `Trade ${rfq.trade.trade_id} at ${time(rfq.trade.traded_at)}. ${how} ${cover}`,
    ];
  } else if (rfq.status === "done_away") {
    heading = "Done away";
    lines = [`${who(rfq.requester)} traded with another dealer.`];
  } else if (rfq.status === "traded_elsewhere") {
    heading = "Traded elsewhere";
    lines = [`${who(rfq.requester)} traded with another dealer; you had not quoted.`];
  } else if (rfq.status !== "live" && rfq.status !== "passed") {
    heading = "Ended";
    lines = [statusText(rfq)];
  }
  box.hidden = heading === null;
  const key = `${rfq.status}:${rfq.trade?.trade_id ?? ""}`;
  if (heading && box.dataset.shown !== key) {
    box.className = `outcome ${rfq.status}`;
    box.replaceChildren(h("h4", { text: heading }), ...lines.map((text) => h("p", { text })));
    box.dataset.shown = key;
  }
}

// The trader's view: a form to ask dealers for quotes, and a live board per RFQ where quotes arrive
// as dealers answer, the best live one marked, with counter, hit and cancel at hand.

import { h, setAttr, setText, sync, uid } from "../dom.js";
import { countdown, passed, price, priceProblem, priceUnits, quantity, time, who } from "../format.js";
import { labelled, rfqTitle, section, statusClass, statusText, table, tradeSentence } from "./common.js";

const DEALER_STATE = {
  invited: "No answer yet",
  quoted: "Quoted",
  withdrawn: "Withdrew its quote",
  passed: "Passed",
};

export function traderView(ctx) {
  const form = newRfqForm(ctx);
  const boards = h("div", { class: "board-list" });
  const empty = h("p", { class: "empty", text: "No RFQ yet: ask dealers for quotes with the form." });
  const root = h(
    "div",
    { class: "trader-layout" },
    section("New RFQ", "panel new-rfq", form.el),
    section("Your RFQs", "boards", empty, boards),
  );

  function update() {
    form.update();
    const shown = ctx.store.rfqList().filter((r) => r.role === "requester" && !r.dismissed);
    empty.hidden = shown.length > 0;
    sync(
      boards,
      shown,
      (r) => r.rfq_id,
      () => boardCard(ctx),
      (el, rfq) => el.update(rfq),
    );
  }

  return { el: root, update };
}

// --- the form ---------------------------------------------------------------------------------
function newRfqForm(ctx) {
  const listId = uid("instruments");
  const options = h("datalist", { id: listId });
  const instrument = labelled(
    "Instrument",
    { list: listId, required: true, autocomplete: "off", spellcheck: "false" },
    "Type a CUSIP or a description, or pick one from the list.",
  );
  const quantityField = labelled("Quantity", {
    type: "number",
    min: "1",
    step: "1",
    required: true,
    inputmode: "numeric",
  });
  const minimum = h("p", { class: "help", id: uid("minimum") });
  quantityField.field.append(minimum);
  setAttr(quantityField.input, "aria-describedby", minimum.id);
  const deadline = labelled("Deadline (minutes from now)", {
    type: "number",
    min: "1",
    max: "10080",
    step: "1",
    value: "5",
    required: true,
  });
  const reference = labelled(
    "Your reference (optional)",
    { maxlength: "20", autocomplete: "off" },
    "Only you see it: dealers never do.",
  );
  const sideName = uid("side");
  const sides = h(
    "fieldset",
    { class: "sides" },
    h("legend", { text: "Side" }),
    ["buy", "sell"].map((value) => {
      const id = uid("side");
      return h(
        "span",
        { class: "choice" },
        h("input", { type: "radio", id, name: sideName, value, checked: value === "buy" }),
        h("label", { for: id, text: value === "buy" ? "Buy" : "Sell" }),
      );
    }),
  );
  const dealerBoxes = h("div", { class: "dealer-choices" });
  const dealers = h("fieldset", { class: "dealers" }, h("legend", { text: "Dealers to ask" }), dealerBoxes);
  const submit = h("button", { type: "submit", class: "primary", text: "Ask for quotes" });
  const el = h(
    "form",
    { novalidate: true },
    instrument.field,
    options,
    sides,
    quantityField.field,
    deadline.field,
    dealers,
    reference.field,
    submit,
  );

  function chosenInstrument() {
    const text = instrument.input.value.trim().toLowerCase();
    const enabled = ctx.store.instrumentList().filter((i) => i.enabled);
    const exact = enabled.filter(
      (i) => i.cusip.toLowerCase() === text || i.description.toLowerCase() === text,
    );
    if (exact.length === 1) return { found: exact[0] };
    const partial = enabled.filter(
      (i) => text && (i.cusip.toLowerCase().includes(text) || i.description.toLowerCase().includes(text)),
    );
    if (partial.length === 1) return { found: partial[0] };
    return {
      error: partial.length ? "several instruments match: be more precise" : "no enabled instrument matches",
    };
  }

  instrument.input.addEventListener("input", () => update());

  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    const choice = chosenInstrument();
    if (choice.error) return ctx.fail("New RFQ", `Instrument “${instrument.input.value}”: ${choice.error}.`);
    const names = [...dealerBoxes.querySelectorAll("input:checked")].map((box) => box.value);
    const amount = Number(quantityField.input.value);
    const minutes = Number(deadline.input.value);
    if (!Number.isSafeInteger(amount) || amount <= 0) return ctx.fail("New RFQ", "Enter a whole quantity.");
    if (!Number.isInteger(minutes) || minutes < 1)
      return ctx.fail("New RFQ", "Enter the deadline in whole minutes.");
    if (!names.length) return ctx.fail("New RFQ", "Choose at least one dealer.");
    const body = {
      cusip: choice.found.cusip,
      side: el.querySelector(`input[name="${sideName}"]:checked`).value,
      quantity: amount,
      ttl_seconds: minutes * 60,
      dealers: names,
    };
    if (reference.input.value.trim()) body.client_order_id = reference.input.value.trim();
    const rfq = await ctx.act("New RFQ", submit, () => ctx.api.post("/v1/rfqs", body));
    if (rfq) {
      ctx.store.applyAction({ type: "rfq_created", rfq });
      ctx.announce(`RFQ ${rfq.rfq_id} sent to ${names.join(", ")}.`);
      reference.input.value = "";
    }
  });

  function update() {
    const enabled = ctx.store.instrumentList().filter((i) => i.enabled);
    sync(
      options,
      enabled,
      (i) => i.instrument_id,
      () => h("option"),
      (option, i) => {
        option.value = i.cusip;
        option.label = i.description || i.cusip;
      },
    );
    const choice = chosenInstrument();
    setText(
      minimum,
      choice.found ? `Minimum for ${choice.found.cusip}: ${quantity(choice.found.min_quantity)}` : "",
    );
    sync(
      dealerBoxes,
      ctx.dealers,
      (d) => d.user_id,
      (d) => {
        const id = uid("dealer");
        return h(
          "span",
          { class: "choice" },
          h("input", { type: "checkbox", id, value: d.name, checked: d.default }),
          h("label", { for: id, text: d.name }),
        );
      },
      () => {},
    );
  }

  return { el, update };
}

// --- a board ------------------------------------------------------------------------------------
function boardCard(ctx) {
  const titleId = uid("rfq");
  const title = h("h3", { id: titleId });
  const status = h("span");
  const details = h("p", { class: "meta" });
  const clock = h("span", { role: "timer", class: "countdown" });
  const quotes = table("", ["Dealer", "Standing", "Price", "Valid", "Your counter", "Actions"], {
    hideCaption: true,
  });
  const confirmation = h("div", { class: "confirmation", hidden: true });
  const cancel = h("button", { type: "button", class: "danger", text: "Cancel RFQ" });
  const dismiss = h("button", { type: "button", class: "quiet", text: "Remove from board" });
  const el = h(
    "article",
    { class: "card board", "aria-labelledby": titleId },
    h("header", { class: "card-head" }, title, status),
    h("p", { class: "meta" }, "Deadline: ", clock),
    details,
    quotes.table,
    confirmation,
    h("div", { class: "card-actions" }, cancel, dismiss),
  );
  let rfq = null;

  cancel.addEventListener("click", async () => {
    const ended = await ctx.act(`Cancel RFQ ${rfq.rfq_id}`, cancel, () =>
      ctx.api.post(`/v1/rfqs/${rfq.rfq_id}/cancel`),
    );
    if (ended) ctx.store.applyAction(ended);
  });
  dismiss.addEventListener("click", () => {
    rfq.dismissed = true;
    ctx.store.changed("dismissed", rfq, "action");
    ctx.focusMain();
  });

  el.update = (next) => {
    rfq = next;
    const live = rfq.status === "live";
    setText(title, rfqTitle(rfq));
    setText(status, statusText(rfq));
    status.className = statusClass(rfq);
    setText(clock, live ? countdown(rfq.deadline, "passed") : time(rfq.deadline));
    const description = ctx.store.description(rfq.instrument);
    const reference = rfq.client_order_id ? ` · your reference ${rfq.client_order_id}` : "";
    setText(details, `${description || rfq.instrument.cusip} · asked at ${time(rfq.created_at)}${reference}`);
    setText(quotes.table.caption, `Quotes for RFQ ${rfq.rfq_id}`);
    const best = bestPrice(rfq);
    sync(
      quotes.body,
      rfq.dealers,
      (d) => d.dealer.user_id,
      () => dealerRow(ctx),
      (row, standing) => row.update(rfq, standing, best),
    );
    confirmation.hidden = !rfq.trade;
    if (rfq.trade) showTrade(confirmation, rfq.trade, ctx.me);
    cancel.hidden = !live;
    cancel.disabled = !live || cancel.dataset.busy === "1";
    setAttr(cancel, "aria-label", `Cancel RFQ ${rfq.rfq_id}`);
    dismiss.hidden = live;
    setAttr(dismiss, "aria-label", `Remove from board: RFQ ${rfq.rfq_id}`);
  };
  return el;
}

/** A quote the requester can still hit: the dealer's current one, within its validity. */
function liveQuote(rfq, standing) {
  return rfq.status === "live" &&
    standing.state === "quoted" &&
    standing.quote &&
    !passed(standing.quote.valid_until)
    ? standing.quote
    : null;
}

/** The best live price: the lowest when the requester buys, the highest when it sells. */
function bestPrice(rfq) {
  let best = null;
  for (const standing of rfq.dealers) {
    const quote = liveQuote(rfq, standing);
    if (!quote) continue;
    const units = priceUnits(quote.price);
    if (best === null || (rfq.side === "buy" ? units < best : units > best)) best = units;
  }
  return best;
}

function dealerRow(ctx) {
  const name = h("th", { scope: "row" });
  const standingCell = h("td");
  const priceText = h("span", { class: "price" });
  const bestBadge = h("span", { class: "badge best", text: "Best" });
  const validity = h("td", { class: "countdown" });
  const counterCell = h("td");
  const hit = h("button", { type: "button", class: "primary", text: "Hit" });
  const counterId = uid("counter");
  const counterInput = h("input", {
    id: counterId,
    class: "price-input",
    inputmode: "decimal",
    autocomplete: "off",
    placeholder: "price",
  });
  const counterLabel = h("label", { for: counterId, class: "visually-hidden" });
  const counterButton = h("button", { type: "submit", text: "Counter" });
  const counterForm = h(
    "form",
    { class: "inline", novalidate: true },
    counterLabel,
    counterInput,
    counterButton,
  );
  const actions = h("div", { class: "row-actions" }, hit, counterForm);
  const row = h(
    "tr",
    {},
    name,
    standingCell,
    h("td", {}, priceText, " ", bestBadge),
    validity,
    counterCell,
    h("td", {}, actions),
  );
  let rfq = null;
  let standing = null;

  hit.addEventListener("click", async () => {
    const quote = standing.quote;
    const traded = await ctx.act(`Hit ${who(standing.dealer)}`, hit, () =>
      ctx.api.post(`/v1/rfqs/${rfq.rfq_id}/quotes/${quote.quote_id}/accept`),
    );
    if (traded) ctx.store.applyAction(traded);
  });
  counterForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = counterInput.value.trim();
    const problem = priceProblem(value);
    if (problem) return ctx.fail(`Counter to ${who(standing.dealer)}`, problem);
    const quote = standing.quote;
    const countered = await ctx.act(`Counter to ${who(standing.dealer)}`, counterButton, () =>
      ctx.api.post(`/v1/rfqs/${rfq.rfq_id}/quotes/${quote.quote_id}/counter`, { price: value }),
    );
    if (countered) {
      ctx.store.applyAction(countered);
      counterInput.value = "";
    }
  });

  row.update = (nextRfq, nextStanding, best) => {
    rfq = nextRfq;
    standing = nextStanding;
    const dealer = who(standing.dealer);
    const quote = standing.quote;
    const live = liveQuote(rfq, standing);
    const ended = rfq.status !== "live";
    const won = rfq.trade?.dealer.user_id === standing.dealer.user_id;
    setText(name, dealer);
    let words = DEALER_STATE[standing.state] ?? standing.state;
    if (won) words = "Traded";
    else if (standing.state === "quoted" && quote && !live && !ended) words = "Quote no longer live";
    setText(standingCell, words);
    setText(priceText, quote ? price(quote.price) : "—");
    // struck through: a quote that lapsed while the RFQ could still trade (not every quote once it ended)
    priceText.classList.toggle("stale", Boolean(quote && !live && !ended));
    actions.hidden = !live; // nothing to hit or counter: no control to tab through either
    const isBest = Boolean(live && best !== null && priceUnits(live.price) === best);
    bestBadge.hidden = !isBest;
    row.classList.toggle("best-row", isBest);
    setText(validity, live ? countdown(quote.valid_until, "expired") : "");
    setText(counterCell, standing.counter ? price(standing.counter.price) : "");
    const canAct = Boolean(live);
    hit.disabled = !canAct || hit.dataset.busy === "1";
    counterInput.disabled = !canAct;
    counterButton.disabled = !canAct || counterButton.dataset.busy === "1";
    setAttr(hit, "aria-label", live ? `Hit ${dealer} at ${price(live.price)}` : `Hit ${dealer}`);
    setText(counterLabel, `Counter price to ${dealer}`);
    setAttr(counterButton, "aria-label", `Send counter to ${dealer}`);
  };
  return row;
}

function showTrade(box, trade, me) {
  const text = `${tradeSentence(trade, me)}.`;
  const cover = trade.cover_price ? ` Cover: ${price(trade.cover_price)}.` : " No cover.";
  const how = trade.kind === "counter_accepted" ? "the dealer accepted your counter" : "you hit the quote";
  const detail = `Trade ${trade.trade_id} at ${time(trade.traded_at)}: ${how}.${cover}`;
  if (box.dataset.trade !== String(trade.trade_id)) {
    box.replaceChildren(
      h("h4", { text: "Trade confirmed" }),
      h("p", { text }),
      h("p", { class: "meta", text: detail }),
    );
    box.dataset.trade = String(trade.trade_id);
  }
}

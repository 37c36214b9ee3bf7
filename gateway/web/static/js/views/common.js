// Pieces the three views share: words for statuses, RFQ titles, the trade sentence, and the
// small table and form builders that keep labels and captions wired for screen readers.

import { h, uid } from "../dom.js";
import { price, quantity, side, who } from "../format.js";

const REQUESTER_STATUS = {
  live: "Live",
  traded: "Traded",
  canceled: "Cancelled",
  expired: "Expired",
  instrument_disabled: "Cancelled: instrument disabled",
  ended: "Ended (outcome not known yet)",
  unknown: "Ended (outcome not known here)",
};

const DEALER_STATUS = {
  live: "Live",
  passed: "You passed",
  traded: "Traded with you",
  done_away: "Done away",
  traded_elsewhere: "Traded elsewhere",
  canceled: "Cancelled by the client",
  expired: "Expired",
  instrument_disabled: "Cancelled: instrument disabled",
  ended: "Ended (outcome not known yet)",
  unknown: "Ended (outcome not known here)",
};

export function statusText(rfq) {
  const words = rfq.role === "dealer" ? DEALER_STATUS : REQUESTER_STATUS;
  return words[rfq.status] ?? rfq.status;
}

/** A badge for a status: its words are the meaning, the colour only repeats them. */
export function statusClass(rfq) {
  if (rfq.status === "live") return "badge live";
  if (rfq.status === "traded") return "badge traded";
  if (rfq.status === "done_away" || rfq.status === "traded_elsewhere") return "badge away";
  return "badge ended";
}

/** "RFQ 7 · Buy 5,000,000 912828YK0" (the requester's side, as the requester says it). */
export function rfqTitle(rfq) {
  return `RFQ ${rfq.rfq_id} · ${side(rfq.side)} ${quantity(rfq.quantity)} ${rfq.instrument.cusip}`;
}

/** The trade in a sentence, from `me`'s side: "You bought 5,000,000 912828YK0 from dealer-b at 99.42". */
export function tradeSentence(trade, me) {
  const bought = trade.buyer.user_id === me.user_id;
  const other = bought ? trade.seller : trade.buyer;
  const verb = bought ? "bought" : "sold";
  const preposition = bought ? "from" : "to";
  return (
    `You ${verb} ${quantity(trade.quantity)} ${trade.instrument.cusip} ${preposition} ${who(other)} ` +
    `at ${price(trade.price)}`
  );
}

/** A table with a caption and a header row; returns {table, body}. */
export function table(caption, headings, { hideCaption = false } = {}) {
  const body = h("tbody");
  const table = h(
    "table",
    {},
    h("caption", { class: hideCaption ? "visually-hidden" : "", text: caption }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headings.map((text) => h("th", { scope: "col", text })),
      ),
    ),
    body,
  );
  return { table, body };
}

/** A labelled input: returns {field, input}. */
export function labelled(text, attrs = {}, help = null) {
  const id = uid("field");
  const helpId = help ? `${id}-help` : null;
  const input = h("input", { id, "aria-describedby": helpId, ...attrs });
  const field = h(
    "div",
    { class: "field" },
    h("label", { for: id, text }),
    input,
    help ? h("p", { id: helpId, class: "help", text: help }) : null,
  );
  return { field, input };
}

/** A section with a heading that labels it (a landmark for screen readers). */
export function section(title, className, ...children) {
  const id = uid("section");
  return h("section", { class: className, "aria-labelledby": id }, h("h2", { id, text: title }), ...children);
}

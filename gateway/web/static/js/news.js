// What a screen reader hears when something happens (the page's polite live region): the events
// of the stream in one sentence each, from the listener's side.

import { price, quantity, who } from "./format.js";

export function news(type, data, store) {
  const rfq = data.rfq_id ? store.rfqs.get(data.rfq_id) : null;
  const mine = rfq?.role === "dealer";
  const on = `on RFQ ${data.rfq_id}`;
  switch (type) {
    case "rfq_invited":
      return (
        `New request: RFQ ${data.rfq.rfq_id}, ${who(data.rfq.requester)} ${data.rfq.side}s ` +
        `${quantity(data.rfq.quantity)} ${data.rfq.instrument.cusip}, ${data.rfq.dealer_count} dealers in competition.`
      );
    case "quote_submitted":
      return mine
        ? `Your quote ${price(data.quote.price)} ${on} is in.`
        : `${who(data.dealer)} quoted ${price(data.quote.price)} ${on}.`;
    case "quote_withdrawn":
      return mine ? `Your quote ${on} is withdrawn.` : `${who(data.dealer)} withdrew its quote ${on}.`;
    case "dealer_passed":
      return mine ? `You passed ${on}.` : `${who(data.dealer)} passed ${on}.`;
    case "quote_countered":
      return mine
        ? `The client counters your quote ${on} at ${price(data.counter.price)}.`
        : `Your counter to ${who(data.dealer)} ${on}: ${price(data.counter.price)}.`;
    case "rfq_traded":
      return `Traded ${on} at ${price(data.trade.price)}.`;
    case "rfq_ended":
      return `RFQ ${data.rfq_id} ended: ${data.reason.replaceAll("_", " ")}.`;
    case "instrument_added":
      return `Instrument ${data.instrument.cusip} added.`;
    default:
      return null;
  }
}

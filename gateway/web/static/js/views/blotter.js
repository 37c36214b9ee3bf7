// The blotter: every RFQ of the user this page knows (live and ended) and the trades among them,
// newest first, kept by the same events as the boards.

import { h, setText, sync } from "../dom.js";
import { price, quantity, side, time, who } from "../format.js";
import { section, statusClass, statusText, table } from "./common.js";

export function blotterView(ctx) {
  const rfqs = table("RFQs", ["RFQ", "Asked at", "Instrument", "Side", "Quantity", "Status", "Price"]);
  const trades = table("Trades", [
    "Trade",
    "Time",
    "RFQ",
    "Instrument",
    "You",
    "Quantity",
    "Price",
    "Counterparty",
    "Cover",
  ]);
  const noRfqs = h("p", { class: "empty", text: "No RFQ yet." });
  const noTrades = h("p", { class: "empty", text: "No trade yet." });
  const el = section(
    "Blotter",
    "panel blotter",
    h("div", { class: "table-wrap" }, rfqs.table),
    noRfqs,
    h("div", { class: "table-wrap" }, trades.table),
    noTrades,
  );

  function update() {
    const all = ctx.store.rfqList();
    noRfqs.hidden = all.length > 0;
    sync(
      rfqs.body,
      all,
      (r) => r.rfq_id,
      () => rfqRow(),
      (row, rfq) => row.update(rfq, ctx),
    );
    const traded = all.filter((r) => r.trade);
    noTrades.hidden = traded.length > 0;
    sync(
      trades.body,
      traded,
      (r) => r.trade.trade_id,
      () => tradeRow(),
      (row, rfq) => row.update(rfq, ctx),
    );
  }

  return { el, update };
}

function cells(row, count) {
  const list = [h("th", { scope: "row" })];
  for (let i = 1; i < count; i += 1) list.push(h("td"));
  row.append(...list);
  return list;
}

function rfqRow() {
  const row = h("tr");
  const [id, asked, instrument, sideCell, amount, status, priceCell] = cells(row, 7);
  const badge = h("span");
  status.append(badge);
  row.update = (rfq) => {
    setText(id, String(rfq.rfq_id));
    setText(asked, time(rfq.created_at));
    setText(instrument, rfq.instrument.cusip);
    setText(sideCell, rfq.role === "dealer" ? `Client ${rfq.side}s` : side(rfq.side));
    setText(amount, quantity(rfq.quantity));
    setText(badge, statusText(rfq));
    badge.className = statusClass(rfq);
    setText(priceCell, rfq.trade ? price(rfq.trade.price) : yourPrice(rfq));
  };
  return row;
}

/** What price an RFQ stands at for its user: the best live quote (requester), its own (dealer). */
function yourPrice(rfq) {
  if (rfq.role === "dealer") return rfq.quote ? `yours ${price(rfq.quote.price)}` : "";
  const quoted = rfq.dealers.filter((d) => d.quote).length;
  return quoted ? `${quoted} quote${quoted > 1 ? "s" : ""}` : "";
}

function tradeRow() {
  const row = h("tr");
  const [id, at, rfqCell, instrument, you, amount, priceCell, other, cover] = cells(row, 9);
  row.update = (rfq, ctx) => {
    const trade = rfq.trade;
    const bought = trade.buyer.user_id === ctx.me.user_id;
    setText(id, String(trade.trade_id));
    setText(at, time(trade.traded_at));
    setText(rfqCell, String(rfq.rfq_id));
    setText(instrument, trade.instrument.cusip);
    setText(you, bought ? "Bought" : "Sold");
    setText(amount, quantity(trade.quantity));
    setText(priceCell, price(trade.price));
    setText(other, who(bought ? trade.seller : trade.buyer));
    setText(cover, trade.cover_price ? price(trade.cover_price) : "—");
  };
  return row;
}

// What the page knows: instruments and the user's RFQs, kept by the platform's events, and saved
// in this tab's sessionStorage with the id of the last event applied, so that a reload resumes the
// stream from there (Last-Event-ID) with everything it had, ended RFQs included.
//
// RFQs are the gateway's own views (GET /v1/rfqs/{id}: the requester's whole, or a dealer's own
// part) and events change them as the gateway's mirror does. Events may arrive twice — the stream
// and a POST's answer carry the same event, a resume may replay — so applying one is idempotent,
// and quote and counter ids (one increasing sequence) keep an older event from undoing a newer one.

const STORAGE_KEY = "rfq.blotter.state.v1";
const ENDED_KEPT = 200;

export class Store {
  constructor(me) {
    this.me = me;
    this.instruments = new Map();
    this.rfqs = new Map();
    this.lastEventId = null;
    this.listeners = new Set();
    this.load();
  }

  // --- persistence ------------------------------------------------------------------------------
  load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null");
      if (!saved || saved.userId !== this.me.user_id) return; // another user's, or nothing
      this.lastEventId = saved.lastEventId;
      this.instruments = new Map(saved.instruments.map((i) => [i.instrument_id, i]));
      this.rfqs = new Map(saved.rfqs.map((r) => [r.rfq_id, r]));
    } catch {
      sessionStorage.removeItem(STORAGE_KEY); // unreadable: start afresh from a snapshot
    }
  }

  save() {
    const state = {
      userId: this.me.user_id,
      lastEventId: this.lastEventId,
      instruments: [...this.instruments.values()],
      rfqs: [...this.rfqs.values()],
    };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
  }

  static forget() {
    sessionStorage.removeItem(STORAGE_KEY);
  }

  // --- listening --------------------------------------------------------------------------------
  /** `listener(type, data, origin)` after each change; origin is "stream" or "action". */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(type, data, origin) {
    this.save();
    for (const listener of this.listeners) listener(type, data, origin);
  }

  // --- reads ------------------------------------------------------------------------------------
  rfqList() {
    return [...this.rfqs.values()].sort((a, b) => b.rfq_id - a.rfq_id);
  }

  instrumentList() {
    return [...this.instruments.values()].sort((a, b) => a.instrument_id - b.instrument_id);
  }

  description(instrumentRef) {
    return this.instruments.get(instrumentRef.instrument_id)?.description ?? "";
  }

  // --- writes -----------------------------------------------------------------------------------
  /** A stream message: apply it, then remember its id (together, so a reload resumes exactly). */
  applyMessage(message) {
    const data = JSON.parse(message.data);
    if (message.id) this.lastEventId = message.id;
    this.apply(data);
    this.changed(data.type, data, "stream");
  }

  /** A POST's answer (the same event the stream will bring): shown at once. */
  applyAction(data) {
    this.apply(data);
    this.changed(data.type, data, "action");
  }

  /** Terminal views from GET /v1/rfqs fill in RFQs that ended while this page was not listening. */
  applyHistory(views) {
    for (const view of views) {
      const known = this.rfqs.get(view.rfq_id);
      if (view.status === "live" && known) continue; // live: the stream keeps it, and is newer
      this.rfqs.set(view.rfq_id, known?.dismissed ? { ...view, dismissed: true } : view);
    }
    this.trim();
    this.changed("history", views, "action");
  }

  apply(data) {
    const handler = HANDLERS[data.type];
    if (handler) handler(this, data);
    this.trim();
  }

  trim() {
    const ended = this.rfqList().filter((r) => r.status !== "live");
    for (const rfq of ended.slice(ENDED_KEPT)) this.rfqs.delete(rfq.rfq_id);
  }

  /** The part of an RFQ a quote event concerns: the requester's row for that dealer, or the
   * dealer's own view (which is its standing). */
  standing(rfqId, dealerRef) {
    const rfq = this.rfqs.get(rfqId);
    if (!rfq) return null;
    if (rfq.role === "dealer") return rfq;
    return rfq.dealers.find((d) => d.dealer.user_id === dealerRef.user_id) ?? null;
  }
}

/** The highest quote or counter id a standing has taken in. */
function version(standing) {
  return Math.max(standing.seen ?? 0, standing.quote?.quote_id ?? 0, standing.counter?.counter_id ?? 0);
}

const ENDINGS = new Set(["canceled", "expired", "instrument_disabled", "done_away", "traded_elsewhere"]);

const HANDLERS = {
  snapshot(store, data) {
    // Everything the user may see now: instruments, and the active RFQs. RFQs this page held as
    // live that the snapshot lacks ended while it was not listening; how, GET /v1/rfqs may tell
    // (main.js asks), or nobody here can (the gateway restarted since): "unknown" says so.
    store.instruments = new Map(data.instruments.map((i) => [i.instrument_id, i]));
    const fresh = new Set(data.rfqs.map((r) => r.rfq_id));
    for (const rfq of data.rfqs) store.rfqs.set(rfq.rfq_id, rfq);
    for (const rfq of store.rfqs.values()) {
      if (rfq.status === "live" && !fresh.has(rfq.rfq_id)) rfq.status = "unknown";
    }
  },
  instrument_added(store, data) {
    store.instruments.set(data.instrument.instrument_id, data.instrument);
  },
  instrument_updated(store, data) {
    store.instruments.set(data.instrument.instrument_id, data.instrument);
  },
  rfq_created(store, data) {
    if (!store.rfqs.has(data.rfq.rfq_id)) store.rfqs.set(data.rfq.rfq_id, data.rfq);
  },
  rfq_invited(store, data) {
    if (!store.rfqs.has(data.rfq.rfq_id)) store.rfqs.set(data.rfq.rfq_id, data.rfq);
  },
  quote_submitted(store, data) {
    const standing = store.standing(data.rfq_id, data.dealer);
    if (!standing || data.quote.quote_id <= version(standing) || standing.state === "passed") return;
    Object.assign(standing, { state: "quoted", quote: data.quote, counter: null });
    standing.seen = data.quote.quote_id;
  },
  quote_withdrawn(store, data) {
    const standing = store.standing(data.rfq_id, data.dealer);
    if (!standing || standing.quote?.quote_id !== data.quote_id) return;
    Object.assign(standing, { state: "withdrawn", quote: null, counter: null });
  },
  dealer_passed(store, data) {
    const standing = store.standing(data.rfq_id, data.dealer);
    if (!standing) return;
    Object.assign(standing, { state: "passed", quote: null, counter: null });
    const rfq = store.rfqs.get(data.rfq_id);
    if (rfq.role === "dealer" && rfq.status === "live") rfq.status = "passed";
  },
  quote_countered(store, data) {
    const standing = store.standing(data.rfq_id, data.dealer);
    if (!standing || data.counter.counter_id <= version(standing)) return;
    standing.counter = data.counter;
    standing.seen = data.counter.counter_id;
  },
  rfq_traded(store, data) {
    const rfq = store.rfqs.get(data.rfq_id);
    if (!rfq) return;
    rfq.trade = data.trade;
    rfq.status = "traded";
  },
  rfq_ended(store, data) {
    const rfq = store.rfqs.get(data.rfq_id);
    if (!rfq || !ENDINGS.has(data.reason) || rfq.status === "traded") return;
    rfq.status = data.reason;
    rfq.ended_at = data.at;
  },
};

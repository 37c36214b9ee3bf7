// The page's entry: sign-in, then the view of the user's role, kept live by the event stream.
//
// The token lives in sessionStorage (this tab only, gone when it closes); the state and the id of
// the last event applied live there too (store.js), so a reload resumes the stream where it was.

import { Api } from "./api.js";
import { h, setText } from "./dom.js";
import { news } from "./news.js";
import { ApiError } from "./problems.js";
import { EventStream } from "./sse.js";
import { Store } from "./store.js";
import { blotterView } from "./views/blotter.js";
import { dealerView } from "./views/dealer.js";
import { operatorView } from "./views/operator.js";
import { traderView } from "./views/trader.js";

const TOKEN_KEY = "rfq.blotter.token";
const $ = (id) => document.getElementById(id);

// --- messages ---------------------------------------------------------------------------------
function fail(label, message) {
  const close = h("button", { type: "button", class: "quiet", text: "Dismiss" });
  close.addEventListener("click", clearErrors);
  $("errors").replaceChildren(h("p", { text: `${label}: ${message}` }), close);
}

function clearErrors() {
  $("errors").replaceChildren();
}

function announce(text) {
  if (!text) return;
  const region = $("announcer");
  region.append(h("p", { text }));
  while (region.childElementCount > 5) region.firstElementChild.remove();
}

// --- sign-in ----------------------------------------------------------------------------------
function showSignIn(message) {
  $("sign-in").hidden = false;
  if (message) fail("Sign in", message);
  const input = $("token");
  input.focus();
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return fail("Sign in", "Paste your API token.");
    clearErrors();
    try {
      const me = await new Api(token).get("/v1/me");
      sessionStorage.setItem(TOKEN_KEY, token);
      input.value = "";
      $("sign-in").hidden = true;
      signedIn(new Api(token), me);
    } catch (error) {
      fail("Sign in", error.message);
    }
  });
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  Store.forget();
  if (message) sessionStorage.setItem("rfq.blotter.farewell", message);
  location.reload(); // drops the stream, timers and views at once
}

// --- signed in --------------------------------------------------------------------------------
async function signedIn(api, me) {
  clearErrors();
  const store = new Store(me);
  let connection = "connecting";
  const ctx = {
    api,
    store,
    me,
    dealers: [],
    fail,
    announce,
    focusMain: () => $("main").focus(),
    connectionWords: () => CONNECTION[connection],
    async act(label, button, run) {
      clearErrors();
      button.dataset.busy = "1";
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        return await run();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) signOut(error.message);
        fail(label, error.message);
        return null;
      } finally {
        delete button.dataset.busy;
        button.removeAttribute("aria-busy");
        button.disabled = false; // the next render disables it again if it no longer applies
        schedule();
      }
    },
  };

  $("who").textContent = `${me.name} · ${me.role}`;
  $("who").hidden = false;
  $("sign-out").hidden = false;
  $("sign-out").addEventListener("click", () => signOut());
  document.title = `RFQ blotter · ${me.name} (${me.role})`;

  const views = VIEWS[me.role].map((make) => make(ctx));
  $("view").className = `view ${me.role}`;
  $("view").replaceChildren(...views.map((v) => v.el));

  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      for (const view of views) view.update();
    });
  }
  schedule();
  setInterval(schedule, 1000); // countdowns, and quotes that run past their validity

  store.subscribe((type, data, origin) => {
    if (origin === "stream" && type !== "snapshot") announce(news(type, data, store));
    if (type === "snapshot" && me.role !== "operator") catchUp(api, store);
    schedule();
  });

  if (me.role === "trader") {
    api.get("/v1/dealers").then(
      (dealers) => {
        ctx.dealers = dealers;
        schedule();
      },
      (error) => fail("Dealers", error.message),
    );
  }

  new EventStream({
    url: "/v1/events",
    token: api.token,
    lastEventId: () => store.lastEventId,
    onMessage: (message) => store.applyMessage(message),
    onState: (state) => {
      if (state === "unauthorized")
        return signOut("Your token is unknown or was revoked: please sign in again.");
      // a retry after a loss is still "reconnecting" to the reader, not a fresh "connecting"
      connection = state === "connecting" && connection === "reconnecting" ? connection : state;
      const indicator = $("connection");
      indicator.hidden = false;
      setText(indicator, CONNECTION[connection]);
      indicator.className = `connection ${connection}`;
      schedule();
    },
  }).start();
}

const CONNECTION = {
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Connection lost: reconnecting…",
};

const VIEWS = {
  trader: [traderView, blotterView],
  dealer: [dealerView, blotterView],
  operator: [operatorView],
};

/** After a snapshot: how did the RFQs that ended meanwhile end? The gateway may still know. */
async function catchUp(api, store) {
  try {
    store.applyHistory(await api.get("/v1/rfqs?status=all"));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    // the stream will bring a new snapshot when the gateway is back, and this runs again
  }
}

// --- start ------------------------------------------------------------------------------------
async function start() {
  const farewell = sessionStorage.getItem("rfq.blotter.farewell");
  sessionStorage.removeItem("rfq.blotter.farewell");
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return showSignIn(farewell);
  const api = new Api(token);
  for (;;) {
    try {
      return signedIn(api, await api.get("/v1/me"));
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      fail("Connecting", error.message); // the gateway is down: keep trying, as the stream would
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}

start();

// The operator's view: the cluster's status as this gateway sees it, the instruments (add, enable,
// disable) and the users of the gateway's directory.

import { h, setAttr, setText, sync, uid } from "../dom.js";
import { quantity, time } from "../format.js";
import { labelled, section, table } from "./common.js";

const STATUS_EVERY_MS = 5000;

export function operatorView(ctx) {
  const status = statusPanel(ctx);
  const instruments = instrumentsPanel(ctx);
  const users = usersPanel(ctx);
  const el = h(
    "div",
    { class: "operator-layout" },
    h("div", { class: "operator-side" }, status.el, users.el),
    instruments.el,
  );
  return {
    el,
    update() {
      status.update();
      instruments.update();
    },
  };
}

// --- status -------------------------------------------------------------------------------------
function statusPanel(ctx) {
  const rows = new Map();
  const list = h("dl", { class: "status-list" });
  const checked = h("p", { class: "meta" });
  const row = (key, term) => {
    const value = h("dd");
    list.append(h("dt", { text: term }), value);
    rows.set(key, value);
  };
  row("ready", "Gateway ready");
  row("connected", "Session with the cluster");
  row("leader", "Cluster leader");
  row("state", "Cluster state loaded");
  row("directory", "Directory loaded");
  row("gateway", "Gateway id · epoch");
  row("pending", "Commands awaiting the cluster");
  row("streams", "Event streams open");
  row("stream", "This page's event stream");
  const el = section(
    "Cluster status",
    "panel status",
    h("p", {
      class: "help",
      text:
        "As this web gateway sees it: it is one client of the cluster, so it knows its own session and " +
        "the leader, not the health of every member.",
    }),
    list,
    checked,
  );
  let readiness = null;
  let error = null;
  let at = null;

  async function poll() {
    try {
      const response = await fetch("/readyz", { cache: "no-store" });
      readiness = await response.json();
      error = null;
    } catch {
      readiness = null;
      error = "The gateway does not answer.";
    }
    at = new Date().toISOString();
    update();
  }
  poll();
  setInterval(poll, STATUS_EVERY_MS); // for the page's life: signing out reloads it

  function set(key, text) {
    setText(rows.get(key), text);
  }

  function update() {
    const r = readiness;
    const yes = (flag) => (r ? (flag ? "Yes" : "No") : "—");
    set("ready", error ?? yes(r?.ready));
    set("connected", r ? (r.connected ? "Connected" : "Not connected") : "—");
    set("leader", r ? (r.leader_member_id >= 0 ? `Member ${r.leader_member_id}` : "Not known") : "—");
    set("state", yes(r?.state_loaded));
    set("directory", yes(r?.directory_loaded));
    set("gateway", r ? `${r.gateway_id} · ${r.epoch}` : "—");
    set("pending", r ? String(r.pending_commands) : "—");
    set("streams", r ? String(r.stream_subscribers) : "—");
    set("stream", ctx.connectionWords());
    setText(checked, at ? `Checked at ${time(at)}, every ${STATUS_EVERY_MS / 1000} s.` : "Checking…");
  }

  return { el, update };
}

// --- instruments --------------------------------------------------------------------------------
function instrumentsPanel(ctx) {
  const cusip = labelled(
    "CUSIP",
    { required: true, maxlength: "9", autocomplete: "off", spellcheck: "false", class: "cusip-input" },
    "9 characters, the last one the check digit.",
  );
  const description = labelled("Description", { maxlength: "200", autocomplete: "off" });
  const minimum = labelled("Minimum quantity", {
    type: "number",
    min: "0",
    step: "1",
    value: "1000000",
    required: true,
  });
  const enabledId = uid("enabled");
  const enabled = h("input", { type: "checkbox", id: enabledId, checked: true });
  const add = h("button", { type: "submit", class: "primary", text: "Add instrument" });
  const form = h(
    "form",
    { class: "instrument-form", novalidate: true },
    cusip.field,
    minimum.field,
    description.field,
    h(
      "div",
      { class: "form-actions" },
      h("span", { class: "choice" }, enabled, h("label", { for: enabledId, text: "Enabled at once" })),
      add,
    ),
  );
  description.field.classList.add("wide");
  const list = table("Instruments", ["ID", "CUSIP", "Description", "Minimum", "Status", "Action"], {
    hideCaption: true,
  });
  const el = section(
    "Instruments",
    "panel instruments",
    h("div", { class: "table-wrap" }, list.table),
    h("p", { class: "help", text: "Disabling an instrument cancels its live RFQs." }),
    h("h3", { text: "Add an instrument" }),
    form,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const min = Number(minimum.input.value);
    if (!Number.isSafeInteger(min) || min < 0)
      return ctx.fail("Add instrument", "The minimum is a whole number.");
    const body = {
      cusip: cusip.input.value.trim().toUpperCase(),
      min_quantity: min,
      enabled: enabled.checked,
      description: description.input.value.trim(),
    };
    const instrument = await ctx.act("Add instrument", add, () => ctx.api.post("/v1/instruments", body));
    if (instrument) {
      ctx.store.applyAction({ type: "instrument_added", instrument });
      ctx.announce(`Instrument ${instrument.cusip} added.`);
      cusip.input.value = "";
      description.input.value = "";
    }
  });

  function update() {
    sync(
      list.body,
      ctx.store.instrumentList(),
      (i) => i.instrument_id,
      () => instrumentRow(ctx),
      (row, i) => row.update(i),
    );
  }
  return { el, update };
}

function instrumentRow(ctx) {
  const row = h("tr");
  const id = h("th", { scope: "row" });
  const cusip = h("td", { class: "mono" });
  const description = h("td");
  const minimum = h("td");
  const badge = h("span");
  const toggle = h("button", { type: "button" });
  row.append(id, cusip, description, minimum, h("td", {}, badge), h("td", {}, toggle));
  let instrument = null;

  toggle.addEventListener("click", async () => {
    const action = instrument.enabled ? "disable" : "enable";
    const updated = await ctx.act(
      `${action === "enable" ? "Enable" : "Disable"} ${instrument.cusip}`,
      toggle,
      () => ctx.api.post(`/v1/instruments/${instrument.instrument_id}/${action}`),
    );
    if (updated) {
      ctx.store.applyAction({ type: "instrument_updated", instrument: updated });
      ctx.announce(`${updated.cusip} is now ${updated.enabled ? "enabled" : "disabled"}.`);
    }
  });

  row.update = (next) => {
    instrument = next;
    setText(id, String(instrument.instrument_id));
    setText(cusip, instrument.cusip);
    setText(description, instrument.description);
    setText(minimum, quantity(instrument.min_quantity));
    setText(badge, instrument.enabled ? "Enabled" : "Disabled");
    badge.className = instrument.enabled ? "badge live" : "badge ended";
    setText(toggle, instrument.enabled ? "Disable" : "Enable");
    setAttr(toggle, "aria-label", `${instrument.enabled ? "Disable" : "Enable"} ${instrument.cusip}`);
    toggle.className = instrument.enabled ? "danger" : "";
    toggle.disabled = toggle.dataset.busy === "1";
  };
  return row;
}

// --- users --------------------------------------------------------------------------------------
// Users live in the gateway's directory, not in the cluster: adding one and issuing its token are
// REST calls the gateway answers itself. A token is shown once, here, and never again.
function usersPanel(ctx) {
  const list = table("Users", ["ID", "Name", "Role", "Default dealer", "Token"], { hideCaption: true });
  const name = labelled("Name", {
    required: true,
    maxlength: "64",
    autocomplete: "off",
    spellcheck: "false",
  });
  const roleId = uid("role");
  const role = h(
    "select",
    { id: roleId },
    ["trader", "dealer", "operator"].map((value) => h("option", { value, text: value })),
  );
  const defaultId = uid("default");
  const defaultDealer = h("input", { type: "checkbox", id: defaultId });
  const add = h("button", { type: "submit", class: "primary", text: "Add user" });
  const form = h(
    "form",
    { class: "user-form", novalidate: true },
    name.field,
    h("div", { class: "field" }, h("label", { for: roleId, text: "Role" }), role),
    h(
      "div",
      { class: "form-actions" },
      h("span", { class: "choice" }, defaultDealer, h("label", { for: defaultId, text: "Default dealer" })),
      add,
    ),
  );
  const issued = h("div", { class: "issued", hidden: true });
  const el = section(
    "Users",
    "panel users",
    h("div", { class: "table-wrap" }, list.table),
    issued,
    h("h3", { text: "Add a user" }),
    form,
  );

  const syncDefault = () => {
    defaultDealer.disabled = role.value !== "dealer";
    if (defaultDealer.disabled) defaultDealer.checked = false;
  };
  role.addEventListener("change", syncDefault);
  syncDefault();

  function showToken(holder, answer) {
    const id = uid("token");
    issued.replaceChildren(
      h("label", { for: id, text: `Token for ${holder} (shown once: hand it over now)` }),
      h("input", { id, readonly: true, value: answer.token, class: "mono", spellcheck: "false" }),
    );
    issued.hidden = false;
    issued.querySelector("input").select();
  }

  async function issue(user, button) {
    const answer = await ctx.act(`Token for ${user.name}`, button, () =>
      ctx.api.post(`/v1/users/${user.user_id}/tokens`, { label: "issued in the blotter" }),
    );
    if (answer) {
      showToken(user.name, answer);
      ctx.announce(`A new token for ${user.name} is shown below the users.`);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!name.input.value.trim()) return ctx.fail("Add user", "Enter a name.");
    const body = { name: name.input.value.trim(), role: role.value, default_dealer: defaultDealer.checked };
    const user = await ctx.act("Add user", add, () => ctx.api.post("/v1/users", body));
    if (!user) return;
    name.input.value = "";
    await load();
    await issue(user, add);
  });

  async function load() {
    const users = await ctx.act("Users", add, () => ctx.api.get("/v1/users"));
    if (!users) return;
    sync(
      list.body,
      users,
      (u) => u.user_id,
      (user) => {
        const button = h("button", { type: "button", class: "quiet", text: "New token" });
        button.addEventListener("click", () => issue(user, button));
        setAttr(button, "aria-label", `New token for ${user.name}`);
        return h("tr", {}, h("th", { scope: "row" }), h("td"), h("td"), h("td"), h("td", {}, button));
      },
      (row, user) => {
        const [id, userName, userRole, isDefault] = row.cells;
        setText(id, String(user.user_id));
        setText(userName, user.name);
        setText(userRole, user.role);
        setText(isDefault, user.role === "dealer" ? (user.default_dealer ? "Yes" : "No") : "—");
      },
    );
  }
  load();
  return { el };
}

// A few DOM helpers instead of a framework. Every value from the platform goes in as text
// (textContent, attributes), never as markup.

/**
 * Make an element: h("button", {class: "primary", type: "button", onclick: fn}, "Hit").
 * Props starting with "on" are listeners; `class`, `text`, `hidden`, `disabled`, `value` and
 * `checked` are set as properties; everything else is an attribute (aria-*, data-*, for, ...).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (["hidden", "disabled", "value", "checked", "required"].includes(name)) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** Set text only when it changed (keeps screen readers and selections undisturbed). */
export function setText(el, text) {
  const value = text ?? "";
  if (el.textContent !== value) el.textContent = value;
}

/** Set or remove an attribute only when it changed. */
export function setAttr(el, name, value) {
  if (value === null || value === undefined || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== String(value)) {
    el.setAttribute(name, String(value));
  }
}

/**
 * Keep `container`'s children in step with `items`, by key: new items get `create(item)`, every
 * item gets `update(el, item)`, children whose item is gone are removed, and the order follows
 * `items`. Elements that stay keep their state (typed input, focus), which a re-render from
 * scratch would lose every second.
 */
export function sync(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of container.children) existing.set(child.dataset.key, child);
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let el = existing.get(key);
    if (el) existing.delete(key);
    else {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    const next = previous ? previous.nextElementSibling : container.firstElementChild;
    if (next !== el) container.insertBefore(el, next);
    previous = el;
  }
  for (const stale of existing.values()) stale.remove();
}

/** A unique id for label/aria wiring. */
let ids = 0;
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

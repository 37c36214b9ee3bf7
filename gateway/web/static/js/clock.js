// The platform's time, as the browser best knows it. Deadlines and validities are the cluster's
// times; a browser clock that is off by minutes would show wrong countdowns, so every API answer's
// Date header (whole seconds) corrects it when the two disagree by more than that rounding.

let offsetMs = 0;

/** Milliseconds since the epoch on the platform's clock. */
export function now() {
  return Date.now() + offsetMs;
}

/** Learn from an HTTP Date header (ignored when missing or within 2 s of our clock). */
export function observeServerDate(header) {
  const server = Date.parse(header ?? "");
  if (Number.isNaN(server)) return;
  const observed = server + 500 - Date.now(); // the header truncates to the second: take the middle
  offsetMs = Math.abs(observed) > 2000 ? observed : 0;
}

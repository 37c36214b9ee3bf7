// How values read on screen. Prices stay exact: the platform sends decimal strings (up to 8
// decimals) and they are compared as integers of 1e-8, never as floats.

import { now } from "./clock.js";

const PRICE_DECIMALS = 8n;

/** "99.515625" → 9951562500n: an exact integer for comparing prices. */
export function priceUnits(text) {
  const [whole, fraction = ""] = String(text).split(".");
  const digits = (fraction + "0".repeat(Number(PRICE_DECIMALS))).slice(0, Number(PRICE_DECIMALS));
  return BigInt(whole) * 10n ** PRICE_DECIMALS + BigInt(digits);
}

const PRICE = /^[0-9]{1,10}(\.[0-9]{1,8})?$/; // what the API takes (rfq.gateway.prices)

/** Why `text` is not a price the platform takes, or null when it is. */
export function priceProblem(text) {
  if (!PRICE.test(text)) return "Enter a price like 99.515625: digits, and at most 8 decimals.";
  if (priceUnits(text) === 0n) return "The price must be greater than zero.";
  return null;
}

/** "99.5" → "99.50": bond prices read with two decimals at least, and never lose a digit. */
export function price(text) {
  if (text === null || text === undefined) return "";
  const [whole, fraction = ""] = String(text).split(".");
  return `${whole}.${fraction.padEnd(2, "0")}`;
}

const grouped = new Intl.NumberFormat("en-US");

/** 5000000 → "5,000,000". */
export function quantity(value) {
  return grouped.format(value);
}

/** "buy" → "Buy". */
export function side(value) {
  return value === "buy" ? "Buy" : "Sell";
}

const clockTime = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZoneName: "short",
});

/** An RFC 3339 time as a local clock time: "14:03:07 UTC". */
export function time(iso) {
  return iso ? clockTime.format(new Date(iso)) : "";
}

/** Time left until `iso` in words a glance reads: "4:05 left", "0:09 left", "ended". */
export function countdown(iso, endedWord = "ended") {
  const left = Math.floor((Date.parse(iso) - now()) / 1000);
  if (!(left > 0)) return endedWord;
  const hours = Math.floor(left / 3600);
  const minutes = Math.floor((left % 3600) / 60);
  const seconds = String(left % 60).padStart(2, "0");
  return hours > 0
    ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds} left`
    : `${minutes}:${seconds} left`;
}

/** Has `iso` passed? */
export function passed(iso) {
  return Date.parse(iso) <= now();
}

/** A user reference as a name ("dealer-b"), or its id when this gateway does not know the name. */
export function who(ref) {
  return ref?.name ?? `user ${ref?.user_id}`;
}

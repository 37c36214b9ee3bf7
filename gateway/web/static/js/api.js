// The web gateway's REST API, as the page uses it: a bearer token on every call, an
// Idempotency-Key on every POST, and problem+json turned into an ApiError in words.
//
// Retrying is safe because of the key: a POST that met a 503 (the cluster did not answer in time),
// a request still in flight, or a dropped connection (a gateway restart) is sent again with the
// *same* key, so the platform does it at most once and answers with its one true outcome.

import { observeServerDate } from "./clock.js";
import { ApiError, describe, UNREACHABLE } from "./problems.js";

const RETRIES = 3;

export class Api {
  constructor(token) {
    this.token = token;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body, crypto.randomUUID());
  }

  async request(method, path, body, key) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.once(method, path, body, key);
      } catch (error) {
        const retry = error instanceof ApiError && error.retryable && attempt < RETRIES;
        if (!retry) throw error;
        await sleep(500 * 2 ** attempt);
      }
    }
  }

  async once(method, path, body, key) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    if (key) headers["Idempotency-Key"] = key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      // nothing answered: for a POST, whether it arrived is unknown, and the same key settles it
      throw new ApiError(UNREACHABLE, { retryable: true });
    }
    observeServerDate(response.headers.get("Date"));
    const text = await response.text();
    const data = text ? parse(text) : null;
    if (response.ok) return data;
    const problem = data && typeof data === "object" ? data : { title: "The gateway refused" };
    const slug = String(problem.type ?? "")
      .split("/")
      .pop();
    throw new ApiError(describe(problem), {
      problem,
      status: response.status,
      retryable: response.status === 503 || slug === "request-in-progress",
    });
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { title: "The gateway sent an answer this page cannot read" };
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

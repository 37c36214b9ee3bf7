// The event stream, read with fetch(): EventSource cannot send an Authorization header, and a
// token in the URL would end up in logs. This reader does what EventSource does — parse the
// text/event-stream format, remember the last id, reconnect with Last-Event-ID — and a little more:
// exponential backoff with jitter, and a watchdog that reconnects a stream gone silent (the gateway
// sends a comment every 15 s, so a minute of nothing means the connection is dead).

const SILENCE_MS = 60_000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

/**
 * Parse text/event-stream chunks into messages {id, event, data}. Feed it decoded text as it
 * arrives; it calls `onMessage` for each complete message (per the HTML standard's rules: fields
 * `data` (joined by newlines), `event`, `id`, `retry`; lines starting with ':' are comments).
 */
export class SseParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.data = [];
    this.event = "";
    this.id = undefined;
  }

  push(chunk) {
    this.buffer += chunk;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop(); // the unfinished line
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) {
        this.onMessage({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
  }
}

/**
 * One user's stream, kept open until stop(): `onMessage(message)` for each event (its id is the
 * one to resume from once the message is applied: ask `lastEventId()` for it at each connection),
 * `onState(state, detail)` with "connecting", "open", "reconnecting" (detail: ms until the next
 * try) or "unauthorized" (the token was revoked: it stops).
 */
export class EventStream {
  constructor({ url, token, lastEventId, onMessage, onState }) {
    Object.assign(this, { url, token, lastEventId, onMessage, onState });
    this.controller = null;
    this.stopped = false;
  }

  start() {
    this.run();
    return this;
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async run() {
    let failures = 0;
    while (!this.stopped) {
      const received = await this.connect();
      if (this.stopped || received === "unauthorized") return;
      failures = received ? 0 : failures + 1; // a stream that delivered resets the backoff
      const base = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
      const delay = Math.round(base * (0.75 + Math.random() * 0.5));
      this.onState("reconnecting", delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** One connection, until it ends: true if it delivered a message, false if not. */
  async connect() {
    this.controller = new AbortController();
    const { signal } = this.controller;
    let received = false;
    let watchdog = null;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => this.controller.abort(), SILENCE_MS);
    };
    try {
      this.onState("connecting");
      const headers = { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" };
      const resume = this.lastEventId();
      if (resume) headers["Last-Event-ID"] = resume;
      arm();
      const response = await fetch(this.url, { headers, signal, cache: "no-store" });
      if (response.status === 401) {
        this.onState("unauthorized");
        return "unauthorized";
      }
      if (!response.ok || !response.body) return false;
      this.onState("open");
      const parser = new SseParser((message) => {
        received = true;
        this.onMessage(message);
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        parser.push(value);
      }
    } catch {
      // refused, reset or aborted: the caller reconnects (or has stopped)
    } finally {
      clearTimeout(watchdog);
    }
    return received;
  }
}

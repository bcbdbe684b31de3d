import { soon } from "./batch.js";

// The output panel: the selected entry's lines (every entry's with none
// selected), followed live over `/v1/output?follow=true`. Bounded: at most
// LIMIT lines in the page, shown or held while paused.

const LIMIT = 2000;
const BACKLOG = 200; // lines asked for when the stream opens
const RETRY_MS = 2000;

export class LogPanel {
  constructor({ box, pause, filter, clear, source, status }) {
    Object.assign(this, { box, pause, filter, clear, source, status });
    this.entry = null;
    this.stream = null;
    this.wanted = false; // whether a stream should be open (the console is connected)
    this.pending = []; // lines read, not yet in the page (at most LIMIT)
    this.paused = false;
    this.held = 0; // lines that came while paused
    this.dropped = 0; // lines let go unseen while paused or behind
    this.query = "";
    this.retry = 0;
    // Whether the view sits at the end (and so follows new lines), kept as the
    // person scrolls: reading it at each flush would force a layout of the box.
    this.following = true;
    box.addEventListener(
      "scroll",
      () => {
        this.following = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      },
      { passive: true },
    );
    pause.addEventListener("click", () => this.#togglePause());
    clear.addEventListener("click", () => {
      this.box.replaceChildren();
      this.following = true;
    });
    let typing = 0;
    filter.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => this.#applyFilter(), 120);
    });
  }

  /** Follows `entry` (null: every entry) from now on, once connected. */
  follow(entry) {
    this.entry = entry;
    this.source.textContent = entry == null ? "of every entry" : `of ${entry}`;
    this.box.classList.toggle("every-entry", entry == null);
    if (this.wanted) this.#open();
  }

  /** The console is connected: (re)open the stream. */
  start() {
    this.wanted = true;
    this.#open();
  }

  /** The console lost its connection: stop following until `start`. */
  stop(reason) {
    this.wanted = false;
    this.#close();
    if (reason) this.status.textContent = reason;
  }

  #open() {
    this.#close();
    this.box.replaceChildren(); // the stream starts with the latest lines again
    this.following = true;
    this.pending = [];
    this.held = 0;
    this.dropped = 0;
    this.#showPause();
    const query = new URLSearchParams({ follow: "true", lines: String(BACKLOG) });
    if (this.entry != null) query.set("entry", this.entry);
    const stream = new EventSource(`/v1/output?${query}`);
    this.stream = stream;
    this.status.textContent = "";
    stream.addEventListener("line", (message) => this.#received(JSON.parse(message.data)));
    stream.addEventListener("lost", (message) => {
      const { lost } = JSON.parse(message.data);
      this.#received({ entry: "", stream: "note", text: `... ${lost} lines skipped: the page fell behind` });
    });
    stream.addEventListener("end", () => {
      this.#close();
      this.status.textContent = "the system has stopped: its output ends here";
    });
    stream.addEventListener("error", () => {
      if (stream !== this.stream) return;
      // EventSource gives up for good on an answer that is not 200; retried
      // by hand while the console is connected, else on the next connection.
      this.#close();
      this.status.textContent = "the output stream was interrupted";
      if (this.wanted) this.retry = setTimeout(() => this.wanted && this.#open(), RETRY_MS);
    });
  }

  #close() {
    clearTimeout(this.retry);
    if (this.stream) {
      this.stream.close();
      this.stream = null;
    }
  }

  #received(line) {
    this.pending.push(line);
    if (this.pending.length > LIMIT) {
      const excess = this.pending.length - LIMIT;
      this.pending.splice(0, excess);
      this.dropped += excess;
    }
    if (this.paused) {
      this.held += 1;
      this.#showPause();
    } else {
      soon(this.flush);
    }
  }

  /** Puts the pending lines in the page in one go, dropping the oldest past LIMIT. */
  flush = () => {
    if (this.paused || !this.pending.length) return;
    const box = this.box;
    const following = this.following;
    const lines = document.createDocumentFragment();
    for (const line of this.pending) lines.append(this.#element(line));
    this.pending = [];
    box.append(lines);
    let excess = box.childElementCount - LIMIT;
    while (excess-- > 0) box.firstElementChild.remove();
    if (this.dropped) {
      this.status.textContent = `${this.dropped} lines were not shown (at most ${LIMIT} are kept)`;
      this.dropped = 0;
    }
    if (following) box.scrollTop = box.scrollHeight;
  };

  #element(line) {
    const element = document.createElement("div");
    element.className = `line ${line.stream}`;
    element.dataset.entry = line.entry;
    element.textContent = line.text;
    if (line.at) element.title = new Date(line.at * 1000).toLocaleTimeString();
    if (this.query && !line.text.toLowerCase().includes(this.query)) element.hidden = true;
    return element;
  }

  #applyFilter() {
    this.query = this.filter.value.trim().toLowerCase();
    for (const element of this.box.children) {
      element.hidden = Boolean(this.query) && !element.textContent.toLowerCase().includes(this.query);
    }
    this.box.scrollTop = this.box.scrollHeight;
  }

  #togglePause() {
    this.paused = !this.paused;
    if (!this.paused) {
      this.held = 0;
      this.flush();
    }
    this.#showPause();
  }

  #showPause() {
    this.pause.setAttribute("aria-pressed", String(this.paused));
    this.pause.textContent = this.paused ? `Resume${this.held ? ` (${Math.min(this.held, LIMIT)} new)` : ""}` : "Pause";
  }
}

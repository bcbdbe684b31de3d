// The web console of one running system (docs/web.md): wires the panels to
// the server's pushed events and keeps the connection alive by itself.
//
// State comes from `GET /v1/entries` on each (re)connection, then from the
// events of `/v1/events?follow=true`; the fields events do not carry
// (restarts, held) are read again after an event (`Refresher`): never a timer poll.

import { DATA, getJSON } from "./api.js";
import { now as runNow, soon } from "./batch.js";
import { Actions } from "./actions.js";
import { Lifecycle, Timeline } from "./drawings.js";
import { EntriesTable } from "./entries.js";
import { Graph } from "./graph.js";
import { LogPanel } from "./log.js";

const $ = (id) => document.getElementById(id);

const STATUS_TEXT = {
  connecting: "connecting...",
  connected: "connected",
  disconnected: "disconnected - reconnecting...",
  shutdown: "the system has shut down",
};
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10000];
const AFTER_SHUTDOWN_MS = 5000; // a supervisor started again is found within this
const QUEUE_LIMIT = 5000; // events held while the entries are fetched, or not yet shown
const REFRESH_ONE_BY_ONE = 4; // more entries to re-read than this: all in one request
const REFRESH_DELAY_MS = 250; // the events of one restart land first: one request for them
const REFRESH_LATEST_MS = 1000; // a burst (a shutdown) waits no longer than this
/** What a `GET /v1/entries/ID` says that the events do not (the rest they say, newer). */
const QUIET_FIELDS = ["name", "kind", "held", "ended", "restarts", "requires"];

/**
 * Re-reads what events do not say (restarts, held) for the entries that had
 * events: one round at a time, once the events pause, each entry once per round; many entries at once (a shutdown) are one
 * `GET /v1/entries`, so the supervisor answers a handful of requests, not one
 * per entry.
 */
class Refresher {
  constructor(onEntries) {
    this.onEntries = onEntries;
    this.waiting = new Set();
    this.timer = 0;
    this.first = 0; // when the first event of the coming round came
    this.busy = false;
    this.generation = 0;
  }

  mark(id) {
    this.waiting.add(id);
    this.#soon();
  }

  reset() {
    this.generation += 1;
    this.waiting.clear();
    clearTimeout(this.timer);
    this.timer = 0;
    this.busy = false;
  }

  /** A round once the events pause for REFRESH_DELAY_MS, or REFRESH_LATEST_MS after the first. */
  #soon() {
    if (this.busy) return;
    const at = performance.now();
    if (!this.timer) this.first = at;
    clearTimeout(this.timer);
    const wait = Math.min(REFRESH_DELAY_MS, this.first + REFRESH_LATEST_MS - at);
    this.timer = setTimeout(() => this.#round(), Math.max(0, wait));
  }

  async #round() {
    this.timer = 0;
    const ids = [...this.waiting];
    this.waiting.clear();
    if (!ids.length) return;
    const generation = this.generation;
    this.busy = true;
    try {
      const wanted = new Set(ids);
      const entries = ids.length > REFRESH_ONE_BY_ONE
        ? (await getJSON("/v1/entries")).entries.filter((entry) => wanted.has(entry.id))
        : (await Promise.allSettled(ids.map((id) => getJSON(`/v1/entries/${encodeURIComponent(id)}`))))
            .filter((read) => read.status === "fulfilled")
            .map((read) => read.value);
      if (generation === this.generation) this.onEntries(entries);
    } catch {
      // An entry gone (the config reloaded) or the connection down: the next
      // (re)connection reads every entry anyway.
    } finally {
      if (generation === this.generation) {
        this.busy = false;
        if (this.waiting.size) this.#soon();
      }
    }
  }
}

class Console {
  constructor() {
    this.status = null;
    this.stream = null;
    this.attempt = 0;
    this.retry = 0;
    this.generation = 0;
    this.loading = null; // the stream whose entries are being fetched: its events wait in `queue`
    this.queue = [];
    this.reloadAgain = false;
    this.incoming = []; // events not yet shown

    this.table = new EntriesTable($("entries"), { onSelect: (id) => this.#selected(id) });
    this.graph = new Graph($("graph"), $("graph-fit"), {
      onSelect: (id) => this.table.select(id, { focus: false }),
    });
    this.log = new LogPanel({
      box: $("log"),
      pause: $("log-pause"),
      filter: $("log-filter"),
      clear: $("log-clear"),
      source: $("log-source"),
      status: $("log-status"),
    });
    this.timeline = new Timeline({
      box: $("timeline"),
      live: $("timeline-live"),
      start: $("timeline-start"),
      end: $("timeline-end"),
      reset: $("timeline-reset"),
    });
    this.lifecycle = new Lifecycle({
      box: $("lifecycle"),
      fit: $("lifecycle-fit"),
      caption: $("lifecycle-kind"),
    });
    this.actions = new Actions({
      group: $("actions"),
      shutdown: $("shutdown"),
      dialog: $("confirm"),
      result: $("action-result"),
      table: this.table,
      onEntry: (entry) => this.#reread([entry]),
    });
    this.refresher = new Refresher((entries) => this.#reread(entries));
    $("config").textContent = DATA.config || "";
    if (DATA.config) document.title = `${DATA.config} - healthdaemons`;
    this.log.follow(null);
    this.#setStatus("connecting");
    this.#connect();
  }

  #setStatus(status, detail = "") {
    this.status = status;
    const box = $("connection");
    box.dataset.status = status;
    box.textContent = STATUS_TEXT[status];
    $("connection-detail").textContent = detail;
    document.body.dataset.connection = status;
    $("shutdown").disabled = status !== "connected";
  }

  /** Checks the supervisor answers, then follows its events. */
  async #connect() {
    clearTimeout(this.retry);
    const generation = ++this.generation;
    let health;
    try {
      health = await getJSON("/v1/health");
    } catch (error) {
      if (generation !== this.generation) return;
      const refused = error.status === 401 || error.status === 403;
      this.#lost(refused ? "the token was refused: open the URL that was printed" : error.message);
      return;
    }
    if (generation !== this.generation) return;
    if (this.status === "shutdown" && health.status !== "running") {
      this.#schedule(); // the one that stopped, still closing: wait for a new one
      return;
    }
    const stream = new EventSource("/v1/events?follow=true");
    this.stream = stream;
    stream.addEventListener("open", () => {
      if (stream === this.stream) this.#opened(stream);
    });
    stream.addEventListener("event", (message) => {
      if (stream === this.stream) this.#received(JSON.parse(message.data));
    });
    stream.addEventListener("lost", () => {
      if (stream === this.stream) this.#reload();
    });
    stream.addEventListener("end", () => {
      if (stream === this.stream) this.#ended();
    });
    stream.addEventListener("error", () => {
      if (stream === this.stream) this.#lost("the event stream broke off");
    });
  }

  async #opened(stream) {
    this.attempt = 0;
    this.refresher.reset();
    await this.#reload();
    if (stream !== this.stream) return; // lost meanwhile
    this.#setStatus("connected");
    this.log.start();
    this.timeline.connect();
    this.lifecycle.connect();
  }

  /** Every entry afresh, and the graph; events meanwhile wait, then apply in order. */
  async #reload() {
    const stream = this.stream;
    // A load for an earlier stream (still waiting for its answer) is no load
    // for this one: it gives up when it sees the stream changed.
    if (this.loading === stream) {
      this.reloadAgain = true;
      return;
    }
    runNow(this.applyIncoming); // what came before, in order, before what comes meanwhile
    this.loading = stream;
    this.reloadAgain = false;
    this.queue = [];
    const graphDrawn = this.graph.load(() => this.table.entries.values());
    try {
      do {
        this.reloadAgain = false;
        const { entries } = await getJSON("/v1/entries");
        if (stream !== this.stream) return;
        this.table.load(entries);
        // The graph may have come first (or be the last connection's): paint it now.
        for (const entry of this.table.entries.values()) this.graph.paint(entry);
        this.#showSelected(this.table.get(this.table.selectedId));
        const queued = this.queue;
        this.queue = [];
        for (const event of queued) this.#apply(event);
      } while (this.reloadAgain);
    } catch (error) {
      if (stream === this.stream) this.#lost(error.message);
      return;
    } finally {
      if (this.loading === stream) this.loading = null;
    }
    this.#summarise();
    await graphDrawn;
  }

  #received(event) {
    if (this.loading === this.stream) {
      this.queue.push(event);
      if (this.queue.length > QUEUE_LIMIT) {
        this.queue = [];
        this.reloadAgain = true;
      }
      return;
    }
    this.incoming.push(event);
    if (this.incoming.length > QUEUE_LIMIT) {
      this.incoming = [];
      this.#reload();
    } else {
      soon(this.applyIncoming);
    }
  }

  /** The events that came since the last beat (batch.js), in order. */
  applyIncoming = () => {
    const events = this.incoming;
    this.incoming = [];
    for (const event of events) this.#apply(event);
  };

  #apply(event) {
    const entry = this.table.applyEvent(event);
    if (entry) {
      this.graph.paint(entry);
      if (entry.id === this.table.selectedId) this.#showSelected(entry);
      if (event.type === "transitioned" || event.type === "spawned") this.refresher.mark(entry.id);
      if (event.type === "transitioned") this.#summarise();
    }
    this.timeline.changed();
    document.dispatchEvent(new CustomEvent("healthdaemons:applied", { detail: event }));
  }

  #reread(entries) {
    for (const entry of entries) {
      if (!this.table.get(entry.id)) continue;
      const fields = {};
      for (const name of QUIET_FIELDS) if (name in entry) fields[name] = entry[name];
      this.table.update(entry.id, fields);
      if (entry.id === this.table.selectedId) this.#showSelected(this.table.get(entry.id));
    }
  }

  #ended() {
    this.#closeStream();
    this.#setStatus("shutdown");
    this.log.stop();
    this.timeline.finish();
    this.attempt = 0;
    this.#schedule();
  }

  #lost(why) {
    this.#closeStream();
    if (this.status !== "shutdown") this.#setStatus("disconnected", why);
    this.log.stop();
    this.timeline.disconnect();
    this.#schedule();
  }

  #closeStream() {
    runNow(this.applyIncoming); // the last ones too (those before `end`)
    if (this.stream) {
      this.stream.close();
      this.stream = null;
    }
    this.generation += 1;
    this.refresher.reset();
  }

  /** The next attempt: a bounded backoff, slow once the system has shut down. */
  #schedule() {
    clearTimeout(this.retry);
    let wait = AFTER_SHUTDOWN_MS;
    if (this.status !== "shutdown") {
      wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt += 1;
    }
    wait *= 0.8 + Math.random() * 0.4; // many open pages do not come back in step
    this.retry = setTimeout(() => this.#connect(), wait);
  }

  #selected(id) {
    $("selected").textContent = id == null ? "none" : id;
    this.graph.select(id);
    this.log.follow(id);
    this.actions.selected(id);
    this.#showSelected(this.table.get(id));
  }

  #showSelected(entry) {
    if (!entry) {
      $("selected-kind").textContent = "";
      this.lifecycle.show(null, null);
      return;
    }
    const name = entry.name && entry.name !== entry.id ? `${entry.name}, ` : "";
    const held = entry.held ? (entry.ended ? ", ended" : ", held") : "";
    $("selected-kind").textContent = `${name}${entry.kind}: ${entry.state}${held}`;
    this.lifecycle.show(entry.kind, entry.state);
  }

  #summarise() {
    soon(this.showSummary);
  }

  showSummary = () => {
    let ready = 0;
    for (const entry of this.table.entries.values()) if (entry.state === "ready") ready += 1;
    $("summary").textContent = `${ready} of ${this.table.size} ready`;
  };
}

new Console();

// The server's other drawings: the run's timeline (redrawn as events come,
// at most once a second, never while a window is zoomed) and the lifecycle
// of the selected entry's kind with its state highlighted.

import { RequestError, fitSvg, getText, parseSvg, reveal, show } from "./api.js";

const TIMELINE_GAP_MS = 1000;
const TIMELINE_GAP_MAX_MS = 10000;
const TIMELINE_SHARE = 10; // a long run's big drawing: about a tenth of the time on it, at most
const LIFECYCLE_KEEP = 18; // three kinds x six states

function missing(error) {
  return error instanceof RequestError && (error.status === 404 || error.status === 405);
}

export class Timeline {
  constructor({ box, live, start, end, reset }) {
    Object.assign(this, { box, live, start, end });
    this.timer = 0;
    this.running = false; // a request is under way
    this.dirty = false; // something happened since the last drawing was asked for
    this.last = -Infinity; // when the last request began (ms)
    this.gap = TIMELINE_GAP_MS; // between two requests, longer for a drawing slow to come
    this.available = true;
    this.connected = false;
    this.connections = 0; // how many times the page connected: a late end-of-run drawing must not undo a new one
    const zoomed = () => {
      live.checked = false;
      this.#request();
    };
    start.addEventListener("change", zoomed);
    end.addEventListener("change", zoomed);
    live.addEventListener("change", () => {
      if (live.checked) end.value = "";
      this.#request();
    });
    reset.addEventListener("click", () => {
      start.value = "";
      end.value = "";
      live.checked = true;
      this.#request();
    });
  }

  /** (Re)connected: the server may be another one, so ask again. */
  connect() {
    this.connections += 1;
    this.connected = true;
    this.available = true;
    this.#request();
  }

  disconnect() {
    this.connected = false;
    clearTimeout(this.timer);
    this.timer = 0;
  }

  /** The system has stopped: one last drawing, if the server still answers. */
  finish() {
    this.disconnect();
    if (this.live.checked && this.available && !this.running) {
      this.connected = true;
      this.dirty = true;
      const connection = this.connections;
      // Unless the page has connected again meanwhile (a new supervisor).
      this.#draw().finally(() => connection === this.connections && this.disconnect());
    }
  }

  /** An event came: redraw soon if following the end. */
  changed() {
    if (this.live.checked) this.#request();
  }

  /** A trailing throttle: one request at a time, at most one a second. */
  #request() {
    this.dirty = true;
    if (this.running || this.timer || !this.connected || !this.available) return;
    const wait = Math.max(0, this.last + this.gap - performance.now());
    this.timer = setTimeout(() => this.#draw(), wait);
  }

  async #draw() {
    this.timer = 0;
    if (!this.dirty || !this.connected) return;
    this.dirty = false;
    this.running = true;
    this.last = performance.now();
    const query = new URLSearchParams();
    const start = this.start.valueAsNumber;
    const end = this.end.valueAsNumber;
    if (Number.isFinite(start)) query.set("start", String(start));
    if (!this.live.checked && Number.isFinite(end)) query.set("end", String(end));
    query.set("width", String(Math.max(600, Math.round(this.box.clientWidth - 24))));
    try {
      const svg = parseSvg(await getText(`/v1/timeline?${query}`));
      show(this.box, svg);
      // Measured once the frame showing it is painted: parsing and laying out a
      // long run's drawing is the dear part, and it only grows with the history.
      await new Promise((painted) => requestAnimationFrame(() => setTimeout(painted, 0)));
      const spent = (performance.now() - this.last) * TIMELINE_SHARE;
      this.gap = Math.min(TIMELINE_GAP_MAX_MS, Math.max(TIMELINE_GAP_MS, spent));
      if (this.live.checked) this.box.scrollLeft = this.box.scrollWidth;
    } catch (error) {
      if (missing(error)) {
        this.available = false;
        show(this.box, "this server draws no timeline");
      } else if (error.status !== 0) {
        show(this.box, `the timeline could not be drawn: ${error.message}`);
      }
    } finally {
      this.running = false;
    }
    if (this.dirty) this.#request();
  }
}

export class Lifecycle {
  constructor({ box, fit, caption }) {
    Object.assign(this, { box, fit, caption });
    fit.addEventListener("change", () => {
      const svg = box.querySelector("svg");
      if (svg) fitSvg(svg, fit.checked);
      this.#revealCurrent();
    });
    this.cache = new Map(); // "kind/state" -> SVG text
    this.wanted = null; // {kind, state} to show
    this.running = false;
    this.available = true;
  }

  /** (Re)connected: the drawings may differ on another server. */
  connect() {
    this.cache.clear();
    this.available = true;
    if (this.wanted) this.show(this.wanted.kind, this.wanted.state, { force: true });
  }

  /** Shows the lifecycle of `kind` with `state` highlighted (kind null: none). */
  show(kind, state, { force = false } = {}) {
    const same = this.wanted && this.wanted.kind === kind && this.wanted.state === state;
    if (same && !force) return;
    this.wanted = kind == null ? null : { kind, state };
    if (!this.wanted) {
      delete this.box.dataset.state;
      delete this.box.dataset.kind;
      this.caption.textContent = "";
      show(this.box, "select an entry to see its lifecycle");
      return;
    }
    if (!this.running) this.#draw();
  }

  /** The current state's node in view, in the middle of the panel. */
  #revealCurrent(state = this.box.dataset.state) {
    for (const title of this.box.querySelectorAll("g.node > title")) {
      if (title.textContent.trim() === state) {
        reveal(this.box, title.parentElement, { centre: true });
        return;
      }
    }
  }

  async #draw() {
    this.running = true;
    try {
      // Drawn in turn until the one shown is the one wanted (states may change meanwhile).
      for (;;) {
        const wanted = this.wanted;
        if (!wanted) return;
        const { kind, state } = wanted;
        const key = `${kind}/${state}`;
        let text = this.cache.get(key);
        let problem = null;
        if (text == null && this.available) {
          try {
            const query = new URLSearchParams({ kind, current: state });
            text = await getText(`/v1/lifecycle?${query}`);
            this.cache.set(key, text);
            if (this.cache.size > LIFECYCLE_KEEP) this.cache.delete(this.cache.keys().next().value);
          } catch (error) {
            if (missing(error)) this.available = false;
            problem = error;
          }
        }
        if (this.wanted !== wanted) continue;
        if (text != null) {
          try {
            const svg = parseSvg(text);
            fitSvg(svg, this.fit.checked);
            show(this.box, svg);
            this.#revealCurrent(state);
          } catch (error) {
            show(this.box, error.message);
          }
        } else if (!this.available) {
          show(this.box, `this server draws no lifecycle (${kind}: ${state})`);
        } else {
          show(this.box, `the lifecycle could not be drawn: ${problem ? problem.message : "unknown"}`);
        }
        this.box.dataset.kind = kind;
        this.box.dataset.state = state;
        this.caption.textContent = `of a ${kind}, now ${state}`;
        return;
      }
    } finally {
      this.running = false;
    }
  }
}

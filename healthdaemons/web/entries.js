// The entries table: one row per entry, updated in place as events come
// (a row moves only when its sort key changed), sortable, keyboard-driven.
// 200 entries x 50 events a second must stay cheap: nothing here walks every
// row per event except the once-a-second uptime tick, which only writes the
// cells whose text changed.

import { PALETTE, STATES, reveal } from "./api.js";
import { soon } from "./batch.js";

const COLUMNS = ["id", "name", "state", "health", "pid", "restarts", "uptime", "waiting"];
const PAGE_ROWS = 10;

/** Seconds on a clock of this page, for uptimes that tick without asking. */
export const now = () => performance.now() / 1000;

export function formatUptime(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, "0")}h`;
}

function healthText(health) {
  if (!health) return "";
  return health.message || health.result || "";
}

const stateRank = (state) => {
  const rank = STATES.indexOf(state);
  return rank < 0 ? STATES.length : rank;
};

/** Per column, how two entries compare ascending; nulls sort last either way. */
const SORT_KEYS = {
  id: (e) => e.id,
  name: (e) => e.name || "",
  state: (e) => stateRank(e.state),
  health: (e) => healthText(e.health).toLowerCase(),
  pid: (e) => e.pid,
  restarts: (e) => e.restarts,
  // Every uptime grows alike, so the order by spawn time never goes stale.
  uptime: (e) => (e.since == null ? null : -e.since),
};

function compareValues(a, b) {
  if (a == null || b == null) return a == null ? (b == null ? 0 : 1) : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

export class EntriesTable {
  constructor(table, { onSelect }) {
    this.table = table;
    this.body = table.tBodies[0];
    this.onSelect = onSelect;
    this.entries = new Map(); // id -> entry: the API's fields, plus row, cells, since
    this.order = []; // entries as the rows show them
    this.dependents = new Map(); // id -> ids that require it
    this.sortKey = "id";
    this.ascending = true;
    this.selectedId = null;
    table.setAttribute("role", "grid");
    table.setAttribute("aria-readonly", "true");
    table.tHead.addEventListener("click", (event) => this.#sortClicked(event));
    this.body.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-entry]");
      if (row) this.select(row.dataset.entry, { focus: true });
    });
    this.body.addEventListener("keydown", (event) => this.#key(event));
    this.#showSort();
    this.tick = () => this.#tick();
    setInterval(() => soon(this.tick), 1000);
  }

  /** A fresh list from `GET /v1/entries`: the rows are rebuilt once. */
  load(list) {
    this.entries.clear();
    this.dependents.clear();
    const at = now();
    for (const data of list) {
      const entry = { ...data, since: data.uptime == null ? null : at - data.uptime };
      entry.row = this.#row(entry);
      this.entries.set(entry.id, entry);
    }
    for (const entry of this.entries.values()) {
      for (const required of entry.requires || []) {
        if (!this.dependents.has(required)) this.dependents.set(required, []);
        this.dependents.get(required).push(entry.id);
      }
    }
    this.order = [...this.entries.values()].sort((a, b) => this.#compare(a, b));
    const rows = document.createDocumentFragment();
    for (const entry of this.order) {
      this.#fill(entry);
      rows.append(entry.row);
    }
    this.body.replaceChildren(rows);
    const previous = this.selectedId;
    const kept = this.entries.has(previous) ? previous : null;
    this.selectedId = kept; // its new row is marked below
    this.select(kept);
    if (kept !== previous) this.onSelect(kept);
  }

  get(id) {
    return this.entries.get(id);
  }

  get size() {
    return this.entries.size;
  }

  /** Applies one event from `/v1/events` to its row; returns the entry it touched, or null. */
  applyEvent(event) {
    const entry = this.entries.get(event.entry);
    if (!entry) return null;
    switch (event.type) {
      case "transitioned":
        this.update(entry.id, { state: event.dest });
        break;
      case "health":
        this.update(entry.id, { health: { result: event.result, message: event.message } });
        break;
      case "spawned":
        this.update(entry.id, { pid: event.pid, since: now() });
        break;
      case "exited":
        this.update(entry.id, { pid: null, since: null });
        break;
      default:
        return null;
    }
    return entry;
  }

  /** Merges `fields` into an entry and updates only what changed on its row. */
  update(id, fields) {
    const entry = this.entries.get(id);
    if (!entry) return;
    const before = SORT_KEYS[this.sortKey](entry);
    const stateBefore = entry.state;
    if ("uptime" in fields && !("since" in fields)) {
      fields = { ...fields, since: fields.uptime == null ? null : now() - fields.uptime };
    }
    Object.assign(entry, fields);
    this.#fill(entry);
    if (entry.state !== stateBefore) {
      // What its dependents wait for is computed here, as the server does.
      for (const dependent of this.dependents.get(id) || []) {
        const other = this.entries.get(dependent);
        if (other) this.#fill(other);
      }
    }
    if (compareValues(before, SORT_KEYS[this.sortKey](entry)) !== 0) this.#reposition(entry);
  }

  /** Ids of the entries that (transitively) require `id`, nearest first. */
  dependentsOf(id) {
    const found = [];
    const queue = [...(this.dependents.get(id) || [])];
    while (queue.length) {
      const next = queue.shift();
      if (found.includes(next)) continue;
      found.push(next);
      queue.push(...(this.dependents.get(next) || []));
    }
    return found;
  }

  select(id, { focus = false, anchor = null } = {}) {
    if (id != null && !this.entries.has(id)) id = null;
    const changed = id !== this.selectedId;
    const previous = this.entries.get(this.selectedId);
    if (previous) previous.row.setAttribute("aria-selected", "false");
    this.selectedId = id;
    const entry = this.entries.get(id);
    for (const row of this.body.querySelectorAll('tr[tabindex="0"]')) row.tabIndex = -1;
    const current = entry ? entry.row : anchor || (this.order[0] && this.order[0].row);
    if (entry) entry.row.setAttribute("aria-selected", "true");
    if (current) {
      current.tabIndex = 0;
      if (entry) this.#reveal(entry.row);
      if (focus) current.focus({ preventScroll: true });
    }
    if (changed) this.onSelect(id);
  }

  #reveal(row) {
    const scroller = this.table.parentElement;
    reveal(scroller, row, { top: this.table.tHead.offsetHeight, across: false });
  }

  #row(entry) {
    const row = document.createElement("tr");
    row.dataset.entry = entry.id;
    row.tabIndex = -1;
    row.setAttribute("aria-selected", "false");
    entry.cells = {};
    for (const column of COLUMNS) {
      const cell = document.createElement("td");
      cell.className = column;
      row.append(cell);
      entry.cells[column] = cell;
    }
    entry.badge = document.createElement("span");
    entry.badge.className = "badge";
    entry.cells.state.append(entry.badge);
    entry.shown = {}; // what each cell says now, so unchanged ones are not written
    return row;
  }

  #set(entry, column, text) {
    if (entry.shown[column] !== text) {
      entry.shown[column] = text;
      const target = column === "state" ? entry.badge : entry.cells[column];
      target.textContent = text;
    }
  }

  #fill(entry) {
    const { row } = entry;
    if (row.dataset.state !== entry.state) {
      row.dataset.state = entry.state;
      const colours = PALETTE[entry.state];
      if (colours) {
        entry.badge.style.backgroundColor = colours.fill;
        entry.badge.style.color = colours.text;
      }
    }
    const held = entry.held ? (entry.ended ? "ended" : "held") : "";
    if ((row.dataset.held || "") !== held) {
      for (const element of [row, entry.cells.state]) {
        if (held) element.dataset.held = held;
        else delete element.dataset.held;
      }
      entry.cells.state.title = held === "ended"
        ? "stopped by its restart policy: start or restart runs it again"
        : held ? "held: stopped by an operator until started or restarted" : "";
    }
    this.#set(entry, "id", entry.id);
    this.#set(entry, "name", entry.name || "");
    this.#set(entry, "state", entry.state);
    const health = healthText(entry.health);
    this.#set(entry, "health", health);
    if (entry.cells.health.title !== health) entry.cells.health.title = health;
    const result = entry.health ? entry.health.result : "";
    if (entry.cells.health.dataset.result !== result) entry.cells.health.dataset.result = result;
    this.#set(entry, "pid", entry.pid == null ? "" : String(entry.pid));
    this.#set(entry, "restarts", String(entry.restarts ?? 0));
    this.#set(entry, "uptime", entry.since == null ? "" : formatUptime(now() - entry.since));
    const waiting = (entry.requires || []).filter((r) => {
      const required = this.entries.get(r);
      return !required || required.state !== "ready";
    });
    this.#set(entry, "waiting", waiting.join(", "));
  }

  #tick() {
    const at = now();
    for (const entry of this.order) {
      this.#set(entry, "uptime", entry.since == null ? "" : formatUptime(at - entry.since));
    }
  }

  #compare(a, b) {
    const key = SORT_KEYS[this.sortKey];
    const [first, second] = [key(a), key(b)];
    const order = compareValues(first, second);
    // Descending turns the values round, not the empty ones: they stay last.
    const directed = this.ascending || first == null || second == null ? order : -order;
    return directed || compareValues(a.id, b.id);
  }

  /** Moves one row to where the order puts it: a binary search, one DOM move. */
  #reposition(entry) {
    const from = this.order.indexOf(entry);
    if (from < 0) return;
    this.order.splice(from, 1);
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.#compare(this.order[middle], entry) <= 0) low = middle + 1;
      else high = middle;
    }
    this.order.splice(low, 0, entry);
    if (low === from) return;
    const next = this.order[low + 1];
    const focused = document.activeElement === entry.row;
    this.body.insertBefore(entry.row, next ? next.row : null);
    if (focused) entry.row.focus({ preventScroll: true });
  }

  #sortClicked(event) {
    const button = event.target.closest("button[data-sort]");
    if (!button) return;
    const key = button.dataset.sort;
    if (!(key in SORT_KEYS)) return;
    this.ascending = key === this.sortKey ? !this.ascending : true;
    this.sortKey = key;
    this.order.sort((a, b) => this.#compare(a, b));
    const rows = document.createDocumentFragment();
    for (const entry of this.order) rows.append(entry.row);
    this.body.append(rows);
    this.#showSort();
    const selected = this.entries.get(this.selectedId);
    if (selected) this.#reveal(selected.row);
  }

  #showSort() {
    for (const header of this.table.tHead.querySelectorAll("th")) {
      const button = header.querySelector("button[data-sort]");
      if (button && button.dataset.sort === this.sortKey) {
        header.setAttribute("aria-sort", this.ascending ? "ascending" : "descending");
      } else {
        header.removeAttribute("aria-sort");
      }
    }
  }

  #key(event) {
    const row = event.target.closest("tr[data-entry]");
    if (!row || event.altKey || event.ctrlKey || event.metaKey) return;
    const index = this.order.findIndex((e) => e.row === row);
    let target = null;
    switch (event.key) {
      case "ArrowDown": target = index + 1; break;
      case "ArrowUp": target = index - 1; break;
      case "PageDown": target = index + PAGE_ROWS; break;
      case "PageUp": target = index - PAGE_ROWS; break;
      case "Home": target = 0; break;
      case "End": target = this.order.length - 1; break;
      case "Enter":
      case " ":
        event.preventDefault();
        this.select(row.dataset.entry, { focus: true });
        return;
      case "Escape":
        event.preventDefault();
        this.select(null, { anchor: row });
        return;
      default:
        return;
    }
    event.preventDefault();
    const clamped = Math.max(0, Math.min(this.order.length - 1, target));
    const entry = this.order[clamped];
    if (entry) this.select(entry.id, { focus: true });
  }
}

// Stop, start, restart (the selected entry) and shut down (the system).
// Those that stop something ask first, in a modal <dialog>; every one says
// how it went in #action-result. The state changes themselves arrive as events.

import { post } from "./api.js";

const ASKS = new Set(["stop", "restart", "shutdown"]);
const DOING = { stop: "stopping", start: "starting", restart: "restarting", shutdown: "shutting down" };

export class Actions {
  constructor({ group, shutdown, dialog, result, table, onEntry }) {
    Object.assign(this, { group, dialog, result, table, onEntry });
    this.buttons = [...group.querySelectorAll("button[data-action]")];
    group.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button && !button.disabled) this.#run(button.dataset.action, this.table.selectedId);
    });
    shutdown.addEventListener("click", () => this.#run("shutdown", null));
    this.selected(null);
  }

  /** The selection changed: the entry buttons work on it. */
  selected(id) {
    for (const button of this.buttons) {
      button.disabled = id == null;
      const name = button.textContent.trim();
      button.title = id == null ? "select an entry first" : `${name} ${id}`;
    }
  }

  async #run(action, id) {
    if (action !== "shutdown" && id == null) return;
    if (ASKS.has(action) && !(await this.#confirm(this.#question(action, id)))) {
      this.#say(`${action} cancelled`, null);
      return;
    }
    const target = id == null ? "the system" : id;
    this.#say(`${DOING[action]} ${target}...`, null);
    try {
      if (action === "shutdown") {
        await post("/v1/shutdown");
        this.#say("shutting down: every entry stops in order, dependents first", "ok");
      } else {
        const entry = await post(`/v1/entries/${encodeURIComponent(id)}/${action}`);
        if (entry && entry.id) this.onEntry(entry);
        this.#say(`${action} ${id}: done`, "ok");
      }
    } catch (error) {
      this.#say(`${action} ${target} failed: ${error.message}`, "error");
    }
  }

  #question(action, id) {
    if (action === "shutdown") {
      return "Shut down the whole system? Every entry stops, dependents first, and the supervisor exits.";
    }
    const dependents = this.table.dependentsOf(id);
    const also = dependents.length
      ? ` Its dependents stop first: ${dependents.slice(0, 8).join(", ")}${dependents.length > 8 ? `, and ${dependents.length - 8} more` : ""}.`
      : "";
    if (action === "stop") {
      return `Stop ${id}?${also} It stays stopped until started or restarted.`;
    }
    return `Restart ${id}?${also} It starts again at once, and so do they.`;
  }

  /** Resolves to whether the person confirmed (Escape and Cancel do not). */
  #confirm(question) {
    const dialog = this.dialog;
    dialog.querySelector("#confirm-text").textContent = question;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
      dialog.showModal();
      dialog.querySelector('button[value="cancel"]').focus();
    });
  }

  #say(text, outcome) {
    this.result.textContent = text;
    if (outcome) this.result.dataset.outcome = outcome;
    else delete this.result.dataset.outcome;
  }
}

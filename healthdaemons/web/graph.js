// The system graph: drawn once by the server (`states=false`, a layout that
// does not change with the states), then recoloured here node by node.

import { PALETTE, RequestError, fitSvg, getText, parseSvg, reveal, show, svgSize } from "./api.js";

const XLINK = "http://www.w3.org/1999/xlink";
const SHAPES = "path, polygon, ellipse, polyline, rect";

export class Graph {
  constructor(box, fitToggle, { onSelect }) {
    this.box = box;
    this.fitToggle = fitToggle;
    this.nodes = new Map(); // id -> {group, shapes, texts, title}
    this.svg = null;
    this.selectedId = null;
    box.addEventListener("click", (event) => {
      const group = event.target.closest("g.node[data-entry]");
      if (group) onSelect(group.dataset.entry);
    });
    this.fitChosen = false; // the person chose: no more choosing for them
    fitToggle.addEventListener("change", () => {
      this.fitChosen = true;
      if (this.svg) fitSvg(this.svg, fitToggle.checked);
    });
  }

  /** Fetches the drawing; `entries()` (the table's, once it is here) colour it. */
  async load(entries) {
    let svg;
    try {
      svg = parseSvg(await getText("/v1/graph?format=svg&states=false"));
    } catch (error) {
      this.svg = null;
      this.nodes.clear();
      show(this.box, graphProblem(error));
      return;
    }
    this.svg = svg;
    this.nodes.clear();
    for (const group of svg.querySelectorAll("g.node")) {
      const title = group.querySelector(":scope > title");
      if (!title) continue;
      const id = title.textContent.trim();
      for (const link of group.querySelectorAll("a")) {
        // One tooltip, the live one in <title>, not graphviz's static one.
        link.removeAttributeNS(XLINK, "title");
        link.removeAttribute("title");
      }
      const shapes = [...group.querySelectorAll(SHAPES)].filter(
        (shape) => shape.getAttribute("fill") !== "none",
      );
      const texts = [...group.querySelectorAll("text")];
      group.dataset.entry = id;
      this.nodes.set(id, { group, shapes, texts, title, key: "" });
    }
    if (!this.fitChosen) {
      // Shrunk to the panel while that keeps it readable; else full size, scrolled.
      const size = svgSize(svg);
      this.fitToggle.checked =
        size.width <= this.box.clientWidth * 2 && size.height <= this.box.clientHeight * 2;
    }
    fitSvg(svg, this.fitToggle.checked);
    show(this.box, svg);
    for (const entry of entries()) this.paint(entry);
    this.select(this.selectedId);
  }

  /** Fill, state and tooltip of one node from the entry's fields. */
  paint(entry) {
    const node = this.nodes.get(entry.id);
    if (!node) return;
    const message = entry.health && entry.health.message;
    const result = entry.health && entry.health.result;
    const key = `${entry.state}\u0000${result}\u0000${message}`;
    if (node.key === key) return;
    node.key = key;
    if (node.group.dataset.state !== entry.state) {
      node.group.dataset.state = entry.state;
      const colours = PALETTE[entry.state] || { fill: "#ffffff", text: "#000000" };
      for (const shape of node.shapes) shape.setAttribute("fill", colours.fill);
      for (const text of node.texts) text.setAttribute("fill", colours.text);
    }
    let tooltip = `${entry.kind || "entry"} ${entry.id}: ${entry.state}`;
    if (message) tooltip += `\n${result}: ${message}`;
    node.title.textContent = tooltip;
  }

  select(id) {
    const previous = this.nodes.get(this.selectedId);
    if (previous) previous.group.classList.remove("selected");
    this.selectedId = id;
    const node = this.nodes.get(id);
    if (node) {
      node.group.classList.add("selected");
      reveal(this.box, node.group, { centre: true });
    }
  }
}

function graphProblem(error) {
  if (error instanceof RequestError && error.status === 503) {
    return `no graph: ${error.message}`;
  }
  return `the graph could not be drawn: ${error.message}`;
}

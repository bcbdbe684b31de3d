// Talking to the server: the page's data block, the /v1 requests, SVG parsing.
// Reads ride on the HttpOnly cookie the login set; anything that changes the
// system carries the bearer token, which the server demands for those.

const dataBlock = document.getElementById("console-data");
const TOKEN_KEY = "healthdaemons-token";

/** The token, from the address the login sent the browser to (`/#token=T`),
 * kept in this origin's storage: unlike a cookie, no other port of the host
 * can read it, and every tab of this console (and the page after a restart
 * of the supervisor) finds it there. The address loses it at once. */
function takeToken() {
  const given = /^#token=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (given) {
    window.history.replaceState(null, "", window.location.pathname);
    try {
      window.localStorage.setItem(TOKEN_KEY, given[1]);
    } catch {
      // storage refused (a locked-down profile): this tab keeps it in memory
    }
    return given[1];
  }
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

const TOKEN = takeToken();

/** The data block the server fills: config, states, palette. */
export const DATA = dataBlock ? JSON.parse(dataBlock.textContent) : {};
export const PALETTE = DATA.palette || {};
export const STATES = DATA.states || Object.keys(PALETTE);

/** A failed request: `status` 0 when the server could not be reached. */
export class RequestError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(path, options = {}) {
  let answer;
  try {
    answer = await fetch(path, { credentials: "same-origin", cache: "no-store", ...options });
  } catch (error) {
    throw new RequestError(0, `the server cannot be reached (${error.message})`);
  }
  if (!answer.ok) {
    throw new RequestError(answer.status, await errorText(answer));
  }
  return answer;
}

async function errorText(answer) {
  const text = await answer.text().catch(() => "");
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "string") {
      return body.error;
    }
  } catch {
    // not JSON: an HTML error page or a proxy's text
  }
  return `${answer.status} ${answer.statusText}`.trim();
}

export async function getJSON(path, options) {
  return (await request(path, options)).json();
}

export async function getText(path, options) {
  return (await request(path, options)).text();
}

/** A POST that changes something: needs `Authorization: Bearer TOKEN`. */
export async function post(path) {
  if (!TOKEN) {
    throw new RequestError(401, "this page has no token to act with: open the URL that was printed");
  }
  const answer = await request(path, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  return answer.json().catch(() => ({}));
}

/** An SVG document's root, adopted into this page (never run: CSP and no scripts). */
export function parseSvg(text) {
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = parsed.documentElement;
  if (!root || root.nodeName !== "svg" || parsed.querySelector("parsererror")) {
    throw new RequestError(0, "the server sent a drawing that is not SVG");
  }
  for (const unsafe of root.querySelectorAll("script, foreignObject")) {
    unsafe.remove();
  }
  return document.importNode(root, true);
}

/** An SVG's own size in CSS pixels (graphviz gives points). */
export function svgSize(svg) {
  const box = svg.viewBox && svg.viewBox.baseVal;
  const scale = /pt$/.test(svg.getAttribute("width") || "") ? 4 / 3 : 1;
  return box ? { width: box.width * scale, height: box.height * scale } : { width: 0, height: 0 };
}

/** Lets an SVG scale to its box: the viewBox stays, the fixed size goes. */
export function fitSvg(svg, fit) {
  if (!svg.dataset.width) {
    svg.dataset.width = svg.getAttribute("width") || "";
    svg.dataset.height = svg.getAttribute("height") || "";
  }
  if (fit) {
    svg.removeAttribute("width");
    svg.removeAttribute("height");
  } else {
    if (svg.dataset.width) svg.setAttribute("width", svg.dataset.width);
    if (svg.dataset.height) svg.setAttribute("height", svg.dataset.height);
  }
}

/** Puts `content` (a node or a message) into `box`, replacing what was there. */
export function show(box, content) {
  if (typeof content === "string") {
    const message = document.createElement("p");
    message.className = "placeholder";
    message.textContent = content;
    box.replaceChildren(message);
  } else {
    box.replaceChildren(content);
  }
}

/**
 * Scrolls `container` (only it, never the page) so that `element` shows,
 * `top` pixels below its top edge (under a sticky header).
 */
export function reveal(container, element, { top = 0, centre = false, across = true } = {}) {
  const box = container.getBoundingClientRect();
  const place = element.getBoundingClientRect();
  const visibleTop = box.top + top;
  if (place.top < visibleTop || place.bottom > box.bottom) {
    const shift = centre
      ? place.top - visibleTop - (box.bottom - visibleTop - place.height) / 2
      : place.top < visibleTop ? place.top - visibleTop : place.bottom - box.bottom;
    container.scrollTop += shift;
  }
  if (across && (place.left < box.left || place.right > box.right)) {
    const shift = centre
      ? place.left - box.left - (box.width - place.width) / 2
      : place.left < box.left ? place.left - box.left : place.right - box.right;
    container.scrollLeft += shift;
  }
}

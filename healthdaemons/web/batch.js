// One beat for what changes the page: the events, the new output lines, the
// ticking uptimes are shown together, at once after a quiet spell and at most
// every GAP_MS in a burst. Every frame that changes anything repaints the page
// (200 rows and two large drawings), so fewer frames is most of the saving.

const GAP_MS = 100;
const jobs = new Set();
let timer = 0;
let last = -Infinity;

/** Runs `job` (a stable function: once per beat however often asked) at the next beat. */
export function soon(job) {
  jobs.add(job);
  if (!timer) timer = setTimeout(beat, Math.max(0, last + GAP_MS - performance.now()));
}

/** Runs `job` now if it waits for the next beat (what must show before something else). */
export function now(job) {
  if (jobs.delete(job)) job();
}

function beat() {
  timer = 0;
  last = performance.now();
  const due = [...jobs];
  jobs.clear();
  for (const job of due) job();
}

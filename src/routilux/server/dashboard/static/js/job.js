// A job's page: status (live), Pause / Resume / Cancel, the flow graph
// coloured by routine state, the timeline of deliveries, errors with their
// tracebacks and dead letters with Replay. Live from the job's event stream;
// the job's JSON is read again (at most every half second) as events arrive.

import { api, streamEvents } from "./api.js";
import { h, badge, when, errorBox, TERMINAL } from "./dom.js";
import { renderGraph, legend } from "./graph.js";
import { Timeline } from "./timeline.js";

const RELOAD_MS = 500;
const POLL_MS = 2000;

// A routine's state from its counts and the attempts running now.
function routineState(row, running) {
  if (running > 0) return "running";
  if (!row || row.status === "not run") return "not-run";
  if (row.failures) return "failed";
  if (row.skips) return "skipped";
  return "succeeded";
}

function errorItem(error) {
  const head = `${error.routine_id}.${error.slot} · attempt ${error.attempt} · ${error.action}: ` +
    `${error.error_type}: ${error.message}`;
  return h("details", { class: "error" },
    h("summary", null, head, h("span", { class: "muted" }, `  ${when(error.timestamp)}`)),
    h("pre", null, error.traceback || "(no traceback recorded)"));
}

export function jobPage(main, jobId) {
  const ctrl = new AbortController();
  const running = new Map(); // routine_id -> attempts started and not ended
  let job = null;
  let flow = null;
  let timeline = null;
  let reloadTimer = 0;
  let pollTimer = 0;

  const status = h("span", { "data-testid": "job-status" });
  const facts = h("dl", { class: "facts" });
  const notice = h("div", { "aria-live": "polite" });
  const buttons = {
    pause: h("button", { type: "button", onclick: () => control("pause") }, "Pause"),
    resume: h("button", { type: "button", onclick: () => control("resume") }, "Resume"),
    cancel: h("button", { type: "button", class: "danger", onclick: () => control("cancel") }, "Cancel"),
  };
  const graphSlot = h("div", { class: "graph-wrap", "data-testid": "graph" });
  const timelineSlot = h("div");
  const errorsSlot = h("div", { "data-testid": "errors" });
  const lettersSlot = h("div", { "data-testid": "dead-letters" });

  main.replaceChildren(
    h("h1", null, "Job ", h("span", { class: "mono" }, jobId), status),
    h("div", { class: "row", role: "toolbar", "aria-label": "Job controls" }, buttons.pause, buttons.resume, buttons.cancel),
    notice, facts,
    h("h2", null, "Flow graph"), graphSlot, legend(),
    h("h2", null, "Deliveries"), timelineSlot,
    h("h2", null, "Errors"), errorsSlot,
    h("h2", null, "Dead letters"), lettersSlot);

  function say(message, isError = false) {
    notice.replaceChildren(isError ? errorBox(message) : h("p", { class: "notice" }, message));
  }

  async function control(action) {
    Object.values(buttons).forEach((b) => (b.disabled = true));
    try {
      const result = await api(`/jobs/${encodeURIComponent(jobId)}/${action}`, { method: "POST", body: {} });
      say(`${action}: the job is ${result.status}.`);
    } catch (err) {
      say(err, true);
    }
    await reload();
  }

  async function replay(letter, button) {
    button.disabled = true;
    try {
      const result = await api(`/dead-letters/${encodeURIComponent(letter.letter_id)}/replay`, { method: "POST", body: { again: false } });
      location.hash = `#/jobs/${encodeURIComponent(result.job_id)}`;
    } catch (err) {
      say(err, true);
      button.disabled = false;
    }
  }

  function showStatus(value) {
    status.replaceChildren(badge(value));
    buttons.pause.disabled = value !== "running";
    buttons.resume.disabled = value !== "paused";
    buttons.cancel.disabled = TERMINAL.has(value);
  }

  function renderFacts() {
    const fact = (name, value) => h("div", null, h("dt", null, name), h("dd", null, value));
    facts.replaceChildren(...[
      fact("Flow", h("a", { href: `#/flows/${encodeURIComponent(job.flow_id)}` }, job.flow_id)),
      fact("Created", when(job.created_at)), fact("Updated", when(job.updated_at)),
      fact("Duration", job.duration === null ? "—" : `${job.duration} s`),
      fact("Deliveries", String(job.deliveries)), fact("Pending", String(job.pending)),
      // A job handed to the workers (flow.submit, a request's "queue"): where it runs.
      job.queue ? fact("Queue", job.queue) : null,
      job.queue ? fact("Worker", job.worker || "waiting for a worker") : null,
      job.error ? fact("Error", job.error) : null,
    ].filter(Boolean));
  }

  function renderGraphNow() {
    const rows = new Map(job.routines.map((r) => [r.routine_id, r]));
    const graph = flow ? flow.graph : { nodes: job.routines.map((r) => ({ id: r.routine_id })), edges: [] };
    const states = new Map(graph.nodes.map((n) => {
      const row = rows.get(n.id);
      return [n.id, { ...(row || { deliveries: 0, failures: 0, skips: 0 }), state: routineState(row, running.get(n.id) || 0) }];
    }));
    const entry = flow && flow.entry ? flow.entry.routine_id : null;
    graphSlot.replaceChildren(renderGraph(graph, { entryId: entry, states, label: `Graph of flow ${job.flow_id}, routines coloured by state` }));
  }

  function renderLists() {
    errorsSlot.replaceChildren(job.errors.length ? h("div", null, job.errors.map(errorItem)) : h("p", { class: "muted" }, "No errors."));
    if (!job.dead_letters.length) {
      lettersSlot.replaceChildren(h("p", { class: "muted" }, "No dead letters."));
      return;
    }
    lettersSlot.replaceChildren(h("table", { "aria-label": "Dead letters" },
      h("thead", null, h("tr", null, ["Letter", "Routine", "Error", "Created", ""].map((t) => h("th", null, t)))),
      h("tbody", null, job.dead_letters.map((letter) => {
        const button = h("button", { type: "button", "aria-label": `Replay dead letter ${letter.letter_id}` }, "Replay");
        button.onclick = () => replay(letter, button);
        const done = letter.replayed_by
          ? h("a", { href: `#/jobs/${encodeURIComponent(letter.replayed_by)}` }, "replayed")
          : button;
        return h("tr", { "data-letter": letter.letter_id },
          h("td", { class: "mono" }, letter.letter_id),
          h("td", null, `${letter.routine_id}.${letter.slot}`),
          h("td", null, `${letter.error_type}: ${letter.message}`),
          h("td", null, when(letter.created_at)), h("td", null, done));
      }))));
  }

  async function reload() {
    clearTimeout(reloadTimer);
    reloadTimer = 0;
    try {
      job = await api(`/jobs/${encodeURIComponent(jobId)}?tracebacks=true`, { signal: ctrl.signal });
    } catch (err) {
      if (!ctrl.signal.aborted) say(err, true);
      return;
    }
    if (!flow) flow = await api(`/flows/${encodeURIComponent(job.flow_id)}`, { signal: ctrl.signal }).catch(() => null);
    if (ctrl.signal.aborted) return;
    if (!timeline) {
      timeline = new Timeline((flow ? flow.graph.nodes.map((n) => n.id) : job.routines.map((r) => r.routine_id)));
      timelineSlot.replaceChildren(timeline.el);
    }
    showStatus(job.status);
    renderFacts();
    renderGraphNow();
    renderLists();
  }

  function soon() {
    if (!reloadTimer) reloadTimer = setTimeout(reload, RELOAD_MS);
  }

  function onEvent(event) {
    const data = event.data || {};
    if (event.event === "job") {
      if (data.status) showStatus(data.status);
      soon();
    } else if (event.event === "delivery") {
      const id = data.routine_id;
      const delta = data.type === "started" ? 1 : -1;
      running.set(id, Math.max(0, (running.get(id) || 0) + delta));
      if (timeline) timeline.add(data);
      soon();
    } else if (event.event === "end") {
      running.clear();
      reload();
    }
  }

  // Without the stream (an error, or it ended early), poll until the job ends.
  async function poll() {
    await reload();
    if (!ctrl.signal.aborted && job && !TERMINAL.has(job.status)) pollTimer = setTimeout(poll, POLL_MS);
  }

  (async () => {
    await reload();
    if (!job) return;
    try {
      await streamEvents(`/jobs/${encodeURIComponent(jobId)}/events`, onEvent, ctrl.signal);
    } catch (err) {
      if (!ctrl.signal.aborted) say(`Live events unavailable (${err.message}); refreshing every 2 s.`);
    }
    running.clear();
    if (!ctrl.signal.aborted) poll();
  })();

  return () => {
    ctrl.abort();
    clearTimeout(reloadTimer);
    clearTimeout(pollTimer);
  };
}

// The jobs list: filters (flow, status), counts by status, cursor pages,
// refreshed every two seconds.

import { api } from "./api.js";
import { h, badge, shortId, when, errorBox, JOB_STATUSES } from "./dom.js";

const REFRESH_MS = 2000;
const PAGE_SIZE = 25;

function countBar(counts) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const bar = h("div", { class: "countbar", role: "img", "aria-label": `${total} jobs by status` },
    JOB_STATUSES.filter((st) => counts[st]).map((st) =>
      h("span", { style: `width: ${(100 * counts[st]) / total}%; background: var(--${st})`, title: `${st}: ${counts[st]}` })));
  const chips = h("div", { class: "chips", "data-testid": "counts" },
    h("span", { class: "chip" }, h("strong", null, String(total)), "jobs"),
    JOB_STATUSES.filter((st) => counts[st]).map((st) =>
      h("span", { class: "chip", "data-status": st }, h("span", { class: "dot", style: `background: var(--${st})` }), `${st} ${counts[st]}`)));
  return h("div", null, bar, chips);
}

function jobRow(job) {
  return h("tr", { "data-job": job.job_id },
    h("td", null, h("a", { href: `#/jobs/${encodeURIComponent(job.job_id)}`, class: "mono", title: job.job_id }, shortId(job.job_id))),
    h("td", null, h("a", { href: `#/flows/${encodeURIComponent(job.flow_id)}` }, job.flow_id)),
    h("td", null, badge(job.status)),
    h("td", null, when(job.created_at)),
    h("td", null, when(job.updated_at)),
    h("td", null, job.dead_letters ? String(job.dead_letters) : ""),
    h("td", { class: "muted" }, job.error || ""));
}

function filtersForm(flows, query, go) {
  const flowSelect = h("select", { name: "flow", "aria-label": "Flow", onchange: () => go() },
    h("option", { value: "" }, "all flows"),
    flows.map((f) => h("option", { value: f.flow_id, selected: f.flow_id === query.flow }, f.flow_id)));
  const boxes = JOB_STATUSES.map((st) => h("label", null,
    h("input", { type: "checkbox", name: "status", value: st, checked: query.statuses.includes(st), onchange: () => go() }),
    badge(st)));
  return h("form", { class: "filters", role: "search", "aria-label": "Job filters", onsubmit: (e) => e.preventDefault() },
    h("label", null, "Flow", flowSelect),
    h("fieldset", null, h("legend", null, "Status"), boxes));
}

export function jobsPage(main, params) {
  const query = {
    flow: params.get("flow") || "",
    statuses: params.getAll("status"),
    limit: String(Math.min(500, Math.max(1, Number(params.get("limit")) || PAGE_SIZE))),
  };
  const cursors = [null]; // The cursor of each page seen: [first, second, ...].
  let timer = 0;
  let stopped = false;
  const counts = h("div", { class: "card" });
  const body = h("tbody");
  const pageInfo = h("span", { class: "muted" });
  const prev = h("button", { type: "button", onclick: () => { cursors.pop(); refresh(); } }, "Previous page");
  const next = h("button", { type: "button" }, "Next page");
  const problem = h("div");
  const filterSlot = h("div");

  function go() {
    const form = filterSlot.querySelector("form");
    const search = new URLSearchParams();
    if (form.flow.value) search.set("flow", form.flow.value);
    form.querySelectorAll("input[name=status]:checked").forEach((box) => search.append("status", box.value));
    if (query.limit !== String(PAGE_SIZE)) search.set("limit", query.limit);
    location.hash = `#/jobs${search.toString() ? `?${search}` : ""}`;
  }

  async function refresh() {
    clearTimeout(timer);
    const search = new URLSearchParams({ limit: query.limit });
    if (query.flow) search.set("flow", query.flow);
    query.statuses.forEach((st) => search.append("status", st));
    const cursor = cursors[cursors.length - 1];
    if (cursor) search.set("cursor", cursor);
    try {
      const page = await api(`/jobs?${search}`);
      if (stopped) return;
      problem.replaceChildren();
      counts.replaceChildren(countBar(page.counts || {}));
      body.replaceChildren(...page.jobs.map(jobRow));
      if (!page.jobs.length) body.append(h("tr", null, h("td", { colspan: 7, class: "muted" }, "No jobs match.")));
      prev.disabled = cursors.length < 2;
      next.disabled = !page.next_cursor;
      next.onclick = () => { cursors.push(page.next_cursor); refresh(); };
      pageInfo.textContent = `Page ${cursors.length}`;
    } catch (err) {
      if (!stopped) problem.replaceChildren(errorBox(err));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }

  main.replaceChildren(
    h("h1", null, "Jobs"), filterSlot, counts, problem,
    h("table", { "aria-label": "Jobs" },
      h("thead", null, h("tr", null, ["Job", "Flow", "Status", "Created", "Updated", "Dead letters", "Error"].map((t) => h("th", null, t)))),
      body),
    h("div", { class: "pager" }, prev, next, pageInfo));
  api("/flows").then((data) => {
    if (!stopped) filterSlot.replaceChildren(filtersForm(data.flows, query, go));
  }).catch((err) => problem.replaceChildren(errorBox(err)));
  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

// The flows the service runs, and a flow's page: its graph and a form that
// starts a job (entry, parameters as JSON), then opens the job's page.

import { api } from "./api.js";
import { h, errorBox } from "./dom.js";
import { renderGraph } from "./graph.js";

export function flowsPage(main) {
  const body = h("tbody");
  main.replaceChildren(h("h1", null, "Flows"),
    h("table", { "aria-label": "Flows" },
      h("thead", null, h("tr", null, ["Flow", "Routines", "Connections", "Entry"].map((t) => h("th", null, t)))), body));
  api("/flows").then((data) => {
    body.replaceChildren(...data.flows.map((f) => h("tr", { "data-flow": f.flow_id },
      h("td", null, h("a", { href: `#/flows/${encodeURIComponent(f.flow_id)}` }, f.flow_id)),
      h("td", null, String(f.routines)), h("td", null, String(f.connections)),
      h("td", { class: "mono" }, f.entry ? `${f.entry.routine_id}.${f.entry.slot}` : "—"))));
    if (!data.flows.length) body.append(h("tr", null, h("td", { colspan: 4, class: "muted" }, "The service runs no flows.")));
  }).catch((err) => main.append(errorBox(err)));
  return () => {};
}

function startForm(flow) {
  const entry = flow.entry || {};
  const problem = h("div", { "aria-live": "polite" });
  const routine = h("select", { name: "entry", "aria-label": "Entry routine" },
    flow.graph.nodes.map((n) => h("option", { value: n.id, selected: n.id === entry.routine_id }, n.id)));
  const slot = h("select", { name: "slot", "aria-label": "Entry slot" });
  const fillSlots = () => {
    const node = flow.graph.nodes.find((n) => n.id === routine.value);
    slot.replaceChildren(...(node ? node.slots : []).map((name) =>
      h("option", { value: name, selected: routine.value === entry.routine_id && name === entry.slot }, name)));
  };
  routine.addEventListener("change", fillSlots);
  fillSlots();
  const params = h("textarea", { name: "params", "aria-label": "Parameters (JSON object)", spellcheck: "false" }, "{}");
  const submit = h("button", { type: "submit", class: "primary" }, "Start job");
  async function start(e) {
    e.preventDefault();
    let parsed;
    try {
      parsed = JSON.parse(params.value || "{}");
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    } catch (err) {
      problem.replaceChildren(errorBox(`Parameters: a JSON object is needed (${err.message}).`));
      return;
    }
    submit.disabled = true;
    try {
      const body = { entry: routine.value, slot: slot.value, params: parsed };
      const result = await api(`/flows/${encodeURIComponent(flow.flow_id)}/jobs`, { method: "POST", body });
      location.hash = `#/jobs/${encodeURIComponent(result.job_id)}`;
    } catch (err) {
      problem.replaceChildren(errorBox(err));
      submit.disabled = false;
    }
  }
  return h("form", { class: "card", onsubmit: start, "aria-label": "Start a job" },
    h("div", { class: "row" }, h("label", null, "Entry", routine), h("label", null, "Slot", slot)),
    h("p", null, h("label", { style: "display: block" }, "Parameters (JSON object)"), params),
    problem, submit);
}

export function flowPage(main, flowId) {
  main.replaceChildren(h("h1", null, "Flow ", h("span", { class: "mono" }, flowId)));
  api(`/flows/${encodeURIComponent(flowId)}`).then((flow) => {
    const entryId = flow.entry ? flow.entry.routine_id : null;
    main.append(
      h("p", null, h("a", { href: `#/jobs?flow=${encodeURIComponent(flowId)}` }, "Jobs of this flow")),
      h("h2", null, "Graph"),
      h("div", { class: "graph-wrap", "data-testid": "graph" }, renderGraph(flow.graph, { entryId, label: `Graph of flow ${flowId}` })),
      h("p", { class: "muted" }, entryId ? `Entry (thick border): ${entryId}.${flow.entry.slot}` : "No default entry."),
      h("h2", null, "Start a job"), startForm(flow));
  }).catch((err) => main.append(errorBox(err)));
  return () => {};
}

// A flow's graph as SVG: layers by the longest path from the entry (edges
// that close a cycle are left out of the layering and drawn as back edges),
// each routine a box coloured by its state, with its delivery and failure counts.

import { h, s } from "./dom.js";

const NODE_W = 160;
const NODE_H = 62;
const GAP_X = 46;
const GAP_Y = 26;
const PAD = 16;
const ARC = 44; // Room above (or below) the rows for the links that skip layers (or go back).

export const STATES = [
  ["not-run", "not run"],
  ["running", "running"],
  ["succeeded", "succeeded"],
  ["skipped", "failed, skipped"],
  ["failed", "failed"],
];

// Depth-first from the roots: the edges that go back to a node on the stack.
function backEdges(ids, edges, roots) {
  const out = new Map(ids.map((id) => [id, []]));
  edges.forEach((e, i) => out.get(e.source)?.push([e.target, i]));
  const state = new Map();
  const back = new Set();
  const visit = (start) => {
    const stack = [[start, 0]];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = out.get(top[0])[top[1]];
      top[1] += 1;
      if (!next) {
        state.set(top[0], 2);
        stack.pop();
      } else if (state.get(next[0]) === 1) {
        back.add(next[1]);
      } else if (!state.has(next[0])) {
        state.set(next[0], 1);
        stack.push([next[0], 0]);
      }
    }
  };
  for (const id of [...roots, ...ids]) if (!state.has(id)) visit(id);
  return back;
}

export function layout(graph, entryId) {
  const ids = graph.nodes.map((n) => n.id);
  const known = new Set(ids);
  const edges = graph.edges.filter((e) => known.has(e.source) && known.has(e.target));
  const indegree = new Map(ids.map((id) => [id, 0]));
  edges.forEach((e) => indegree.set(e.target, indegree.get(e.target) + 1));
  const roots = [...(entryId && known.has(entryId) ? [entryId] : []), ...ids.filter((id) => !indegree.get(id))];
  const back = backEdges(ids, edges, roots);
  const forward = edges.filter((_, i) => !back.has(i));
  // Longest path: relax the forward edges in topological order (Kahn).
  const layer = new Map(ids.map((id) => [id, 0]));
  const remaining = new Map(ids.map((id) => [id, 0]));
  forward.forEach((e) => remaining.set(e.target, remaining.get(e.target) + 1));
  const queue = ids.filter((id) => !remaining.get(id));
  while (queue.length) {
    const id = queue.shift();
    for (const e of forward.filter((f) => f.source === id)) {
      layer.set(e.target, Math.max(layer.get(e.target), layer.get(id) + 1));
      remaining.set(e.target, remaining.get(e.target) - 1);
      if (!remaining.get(e.target)) queue.push(e.target);
    }
  }
  // Within a layer: by the mean row of the predecessors (one pass), then by id.
  const layers = [];
  ids.forEach((id) => (layers[layer.get(id)] ||= []).push(id));
  const row = new Map();
  for (const members of layers.filter(Boolean)) {
    const score = (id) => {
      const rows = forward.filter((e) => e.target === id && row.has(e.source)).map((e) => row.get(e.source));
      return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
    };
    members.sort((a, b) => score(a) - score(b) || (a < b ? -1 : 1));
    members.forEach((id, i) => row.set(id, i));
  }
  const tallest = Math.max(1, ...layers.filter(Boolean).map((m) => m.length));
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y;
  // Edges between the same two routines are drawn as one link; a link that
  // skips layers arcs above the rows, one that closes a cycle below them.
  const links = new Map();
  edges.forEach((e, i) => {
    const key = `${e.source}\u0000${e.target}`;
    const link = links.get(key) || { source: e.source, target: e.target, events: [], titles: [], back: false };
    link.events.push(e.event);
    link.titles.push(`${e.source}.${e.event} → ${e.target}.${e.slot}`);
    link.back ||= back.has(i);
    links.set(key, link);
  });
  for (const link of links.values()) {
    const span = layer.get(link.target) - layer.get(link.source);
    link.kind = link.back ? "back" : span > 1 ? "over" : "next";
  }
  const over = [...links.values()].some((l) => l.kind === "over") ? ARC : 0;
  const under = [...links.values()].some((l) => l.kind === "back") ? ARC : 0;
  const pos = new Map();
  layers.forEach((members, col) => {
    if (!members) return;
    const top = over + (height - (members.length * NODE_H + (members.length - 1) * GAP_Y)) / 2;
    members.forEach((id, i) => pos.set(id, { x: PAD + col * (NODE_W + GAP_X), y: top + i * (NODE_H + GAP_Y) }));
  });
  const width = PAD * 2 + layers.length * NODE_W + Math.max(0, layers.length - 1) * GAP_X;
  return { pos, links: [...links.values()], width, height: height + over + under };
}

// The link's path and where its label goes.
function linkShape(link, a, b, height) {
  const x1 = a.x + NODE_W / 2;
  const x2 = b.x + NODE_W / 2;
  if (link.kind === "back") {
    const y = height - 10;
    return { d: `M${x1},${a.y + NODE_H} C${x1},${y} ${x2},${y} ${x2},${b.y + NODE_H + 2}`, x: (x1 + x2) / 2, y: y - 6 };
  }
  if (link.kind === "over") {
    const y = Math.min(a.y, b.y) - ARC + 8;
    const apex = Math.min(a.y, b.y) + 0.75 * (y - Math.min(a.y, b.y)); // of the cubic curve
    return { d: `M${x1},${a.y} C${x1},${y} ${x2},${y} ${x2},${b.y - 2}`, x: (x1 + x2) / 2, y: apex - 4 };
  }
  const sx = a.x + NODE_W;
  const sy = a.y + NODE_H / 2;
  const tx = b.x;
  const ty = b.y + NODE_H / 2;
  const mid = (sx + tx) / 2;
  return { d: `M${sx},${sy} C${mid},${sy} ${mid},${ty} ${tx - 2},${ty}`, x: mid, y: (sy + ty) / 2 - 5 };
}

function counts(info) {
  if (!info) return "";
  const parts = [`${info.deliveries} deliver${info.deliveries === 1 ? "y" : "ies"}`];
  if (info.failures) parts.push(`${info.failures} failed`);
  if (info.skips) parts.push(`${info.skips} skipped`);
  return parts.join(" · ");
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// graph: {nodes: [{id, class}], edges: [{source, event, target, slot}]};
// states: Map routine_id -> {state, deliveries, failures, skips} (optional).
export function renderGraph(graph, { entryId = null, states = null, label = "Flow graph" } = {}) {
  const { pos, links, width, height } = layout(graph, entryId);
  const svg = s("svg", {
    class: "graph", viewBox: `0 0 ${width} ${height}`, style: `max-width: ${width}px`,
    role: "img", "aria-label": label,
  });
  svg.append(s("defs", null, s("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
  }, s("path", { d: "M0,0 L10,5 L0,10 z", fill: "#9ca3af" }))));
  for (const link of links) {
    const shape = linkShape(link, pos.get(link.source), pos.get(link.target), height);
    svg.append(s("path", { class: "edge", d: shape.d, "marker-end": "url(#arrow)" },
      s("title", { text: link.titles.join("\n") })));
    svg.append(s("text", { class: "edge-label", x: shape.x, y: shape.y, "text-anchor": "middle", text: clip(link.events.join(", "), 18) }));
  }
  for (const node of graph.nodes) {
    const p = pos.get(node.id);
    const info = states ? states.get(node.id) : null;
    const state = info ? info.state : null;
    const cls = ["node", state || "", node.id === entryId ? "entry" : ""].join(" ").trim();
    const klass = String(node.class || "").split(/[:.]/).pop();
    const summary = [node.id, state ? STATES.find((x) => x[0] === state)?.[1] : null, counts(info)].filter(Boolean).join(", ");
    svg.append(s("g", {
      class: cls, transform: `translate(${p.x},${p.y})`, "data-routine": node.id,
      "data-state": state || "", role: "img", "aria-label": summary,
    },
    s("title", { text: summary + (node.class ? ` (${node.class})` : "") }),
    s("rect", { width: NODE_W, height: NODE_H, rx: 8 }),
    s("text", { class: "title", x: 10, y: 19, text: clip(node.id, 19) }),
    s("text", { class: "sub", x: 10, y: 35, text: clip(klass, 23) }),
    s("text", { class: "counts", x: 10, y: 52, text: info ? counts(info) : "" })));
  }
  return svg;
}

export function legend() {
  return h("div", { class: "legend", "aria-label": "Routine states" },
    STATES.map(([cls, name]) => h("span", null,
      h("span", { class: `swatch`, style: `background: var(--node-${cls.replace("-", "")})` }), name)));
}

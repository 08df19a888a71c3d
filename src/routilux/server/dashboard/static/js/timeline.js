// The timeline of deliveries: one lane per routine, one bar per attempt on a
// time axis; retried attempts amber (and the retry marked ↻), failures red.
// Fed by the job's event stream: an attempt starts with a "started" event and
// ends with the next outcome of the same delivery and attempt.

import { h, s } from "./dom.js";

const LANE_H = 24;
const LABEL_W = 120;
const ROW_PAD = 5;
const MIN_W = 3;

export class Timeline {
  constructor(routineIds) {
    this.lanes = [...routineIds];
    this.attempts = new Map();
    this.t0 = null;
    this.t1 = null;
    this.el = h("div", { class: "timeline-wrap", "data-testid": "timeline" });
    this.frame = 0;
    this.render();
  }

  // An event's time: its own ("time", seconds since the epoch) if it has one,
  // else when it arrived.
  static timeOf(data) {
    return typeof data.time === "number" ? data.time * 1000 : Date.now();
  }

  add(data) {
    if (!data || !data.routine_id) return;
    const at = Timeline.timeOf(data);
    const key = `${data.delivery_id}#${data.attempt}`;
    if (!this.lanes.includes(data.routine_id)) this.lanes.push(data.routine_id);
    let item = this.attempts.get(key);
    if (data.type === "started") {
      item = item || { routine: data.routine_id, attempt: data.attempt, outcome: "running", start: at, end: null };
      item.start = at;
    } else if (data.type === "dead_lettered" && item && item.end !== null) {
      item.deadLettered = true; // Kept after its outcome (failed or skipped): a mark, not a new end.
    } else {
      const duration = typeof data.duration === "number" ? data.duration * 1000 : 0;
      item = item || { routine: data.routine_id, attempt: data.attempt, start: at - duration };
      item.end = Math.max(at, item.start);
      item.outcome = data.type;
      item.error = data.error_type ? `${data.error_type}: ${data.error || ""}` : null;
      item.retryDelay = data.retry_delay;
    }
    this.attempts.set(key, item);
    this.t0 = this.t0 === null ? item.start : Math.min(this.t0, item.start);
    this.t1 = Math.max(this.t1 || 0, item.end || at);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    this.frame = 0;
    this.el.replaceChildren();
    if (!this.attempts.size) {
      this.el.append(h("p", { class: "muted" }, "No deliveries seen yet."));
      return;
    }
    const span = Math.max(this.t1 - this.t0, 1);
    const plotW = Math.max(600, (this.el.clientWidth || 1000) - LABEL_W - 40);
    const width = LABEL_W + plotW + 20;
    const height = 24 + this.lanes.length * LANE_H;
    const x = (t) => LABEL_W + ((t - this.t0) / span) * plotW;
    const svg = s("svg", { class: "timeline", width, height, role: "img",
      "aria-label": `Timeline of ${this.attempts.size} delivery attempts` });
    this.lanes.forEach((id, i) => {
      const y = 20 + i * LANE_H;
      svg.append(s("text", { x: 4, y: y + LANE_H / 2 + 4, text: id }));
      svg.append(s("line", { class: "axis", x1: LABEL_W, x2: LABEL_W + plotW, y1: y + LANE_H, y2: y + LANE_H }));
    });
    for (let i = 0; i <= 5; i += 1) {
      const t = (span * i) / 5;
      const label = span < 2000 ? `${Math.round(t)} ms` : `${(t / 1000).toFixed(1)} s`;
      svg.append(s("text", { x: LABEL_W + (plotW * i) / 5, y: 12, "text-anchor": i ? (i === 5 ? "end" : "middle") : "start", text: label }));
    }
    for (const item of this.attempts.values()) {
      const lane = this.lanes.indexOf(item.routine);
      const y = 20 + lane * LANE_H + ROW_PAD;
      const end = item.end === null ? this.t1 : item.end;
      const bx = x(item.start);
      const bw = Math.max(MIN_W, x(end) - bx);
      const what = `${item.routine}, attempt ${item.attempt}: ${item.outcome.replace("_", " ")}` +
        `${item.error ? ` (${item.error})` : ""}, ${Math.round(end - item.start)} ms` +
        `${item.deadLettered ? ", kept as a dead letter" : ""}`;
      svg.append(s("rect", { class: `bar ${item.outcome}`, x: bx, y, width: bw, height: LANE_H - 2 * ROW_PAD, rx: 2,
        "data-attempt": item.attempt }, s("title", { text: what })));
      if (item.outcome === "retried") {
        svg.append(s("text", { x: bx + bw + 1, y: y + 10, text: "↻" }, s("title", { text: `retried: ${what}` })));
      }
    }
    this.el.append(svg, h("div", { class: "legend" },
      [["succeeded", "succeeded"], ["running", "running"], ["retried", "failed, retried ↻"], ["skipped", "failed, skipped"], ["failed", "failed"]]
        .map(([cls, name]) => h("span", null, h("span", { class: "swatch", style: `background: ${{ succeeded: "var(--completed)", running: "var(--running)", retried: "var(--paused)", skipped: "#f59e0b", failed: "var(--failed)" }[cls]}` }), name))));
  }
}

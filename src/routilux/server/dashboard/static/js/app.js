// The dashboard's router (hash routes) and the API key dialog.
//   #/jobs?flow=F&status=S&limit=N   the jobs list (N a page, 25 by default)
//   #/jobs/ID                a job
//   #/flows, #/flows/ID      the flows, a flow

import { getKey, setKey, whenKeyNeeded } from "./api.js";
import { jobsPage } from "./jobs.js";
import { jobPage } from "./job.js";
import { flowsPage, flowPage } from "./flows.js";

const main = document.getElementById("main");
const dialog = document.getElementById("key-dialog");
const input = document.getElementById("key-input");
let cleanup = () => {};

function route() {
  cleanup();
  const hash = location.hash.replace(/^#/, "") || "/jobs";
  const [path, search] = hash.split("?");
  const params = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "jobs" && parts[1]) cleanup = jobPage(main, parts[1]);
  else if (parts[0] === "flows" && parts[1]) cleanup = flowPage(main, parts[1]);
  else if (parts[0] === "flows") cleanup = flowsPage(main);
  else cleanup = jobsPage(main, params);
  document.title = `routilux · ${parts.join(" ") || "jobs"}`;
}

function askKey(reason) {
  if (dialog.open) return;
  document.getElementById("key-reason").textContent = reason || "The service wants an API key.";
  input.value = getKey();
  dialog.showModal();
}

document.getElementById("key-form").addEventListener("submit", () => {
  setKey(input.value.trim());
  route();
});
document.getElementById("key-forget").addEventListener("click", () => {
  setKey("");
  input.value = "";
});
document.getElementById("key-button").addEventListener("click", () => askKey("Change the API key."));
whenKeyNeeded(askKey);
window.addEventListener("hashchange", route);
route();

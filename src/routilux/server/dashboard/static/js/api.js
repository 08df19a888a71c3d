// The service's JSON API, with the API key kept in localStorage.

const KEY_NAME = "routilux.apiKey";
// The page is served at <base>/ui/: the API is at <base>/.
export const BASE = location.pathname.replace(/ui\/.*$/, "").replace(/\/?$/, "/");

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onKeyNeeded = () => {};
export function whenKeyNeeded(callback) {
  onKeyNeeded = callback;
}

export function getKey() {
  return localStorage.getItem(KEY_NAME) || "";
}

export function setKey(key) {
  if (key) localStorage.setItem(KEY_NAME, key);
  else localStorage.removeItem(KEY_NAME);
}

function headers(extra) {
  const all = { Accept: "application/json", ...extra };
  const key = getKey();
  if (key) all.Authorization = `Bearer ${key}`;
  return all;
}

function url(path) {
  return BASE + path.replace(/^\//, "");
}

async function failure(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // Not JSON: the status line says enough.
  }
  const err = body && body.error ? body.error : {};
  const message = err.message || `${resp.status} ${resp.statusText}`;
  if (resp.status === 401) onKeyNeeded(getKey() ? "The service refused this key." : message);
  return new ApiError(resp.status, err.code || "", message);
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url(path), init);
  if (!resp.ok) throw await failure(resp);
  return resp.status === 204 ? null : resp.json();
}

// Parses one block of a text/event-stream ("id:", "event:", "data:" lines).
function parseBlock(block) {
  const event = { id: null, event: "message", data: [] };
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "data") event.data.push(value);
    else if (field === "id") event.id = value;
    else if (field === "event") event.event = value;
  }
  if (!event.data.length && event.event === "message") return null;
  const text = event.data.join("\n");
  try {
    event.data = text ? JSON.parse(text) : null;
  } catch {
    event.data = text;
  }
  return event;
}

// Reads a Server-Sent Events stream with fetch (EventSource cannot send the
// key). Calls onEvent({id, event, data}) for each event; resolves when the
// stream ends (after its "end" event) or the signal aborts. A dropped
// connection is taken up again from the last event id, a few times.
export async function streamEvents(path, onEvent, signal) {
  let lastId = null;
  for (let attempt = 0; attempt < 5 && !signal.aborted; attempt += 1) {
    const extra = { Accept: "text/event-stream" };
    if (lastId !== null) extra["Last-Event-ID"] = lastId;
    let resp;
    try {
      resp = await fetch(url(path), { headers: headers(extra), signal });
    } catch (err) {
      if (signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
      continue;
    }
    if (!resp.ok) throw await failure(resp);
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let ended = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const blocks = buffer.split(/\r?\n\r?\n/);
        buffer = blocks.pop();
        for (const block of blocks) {
          const event = parseBlock(block);
          if (!event) continue;
          if (event.id !== null) lastId = event.id;
          if (event.event === "end") ended = true;
          onEvent(event);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
    }
    if (ended) return;
    await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
  }
}

// The service's public JSON API, as any client calls it: the key travels as a bearer token.

const KEY_STORAGE = "finder.apiKey";

/**
 * A response other than 2xx: `detail` is FastAPI's string or its list of validation errors.
 * A refusal by a bound (429) or by a draining service (503) also has `limit` (the setting, or
 * "draining"), its `value`, and `retryAfter`, the seconds its `Retry-After` asks to wait.
 */
export class ApiError extends Error {
  constructor(status, detail, { limit = null, value = null, retryAfter = null } = {}) {
    super(typeof detail === "string" ? detail : `The service answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.limit = limit;
    this.value = value;
    this.retryAfter = retryAfter;
  }

  /** 429 or 503: not a failure, a "not now" (nothing was created; retry later). */
  get retryLater() {
    return this.status === 429 || this.status === 503;
  }

  /** FastAPI's 422 list: `[{loc: ["body", "range", "max_lr"], msg: "..."}]`. */
  get validationErrors() {
    return Array.isArray(this.detail) ? this.detail : [];
  }
}

/** 401: no key, or one the service does not know. */
export class AuthError extends ApiError {
  constructor(status, detail) {
    super(status, detail);
    this.name = "AuthError";
  }
}

export function getKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

let unauthorized = () => {};

/** Call `handler(error)` on every 401 (the app brings the key form back). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** `Retry-After` in seconds (a number, or an HTTP date), null when absent or unreadable. */
export function retryAfterSeconds(header, now = Date.now()) {
  if (header === null || header === undefined || header === "") return null;
  if (/^\s*\d+\s*$/.test(header)) return Number(header);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

async function errorFrom(response) {
  let detail = `${response.status} ${response.statusText}`.trim();
  const extra = { retryAfter: retryAfterSeconds(response.headers.get("Retry-After")) };
  try {
    const body = await response.json();
    if (body && body.detail !== undefined) detail = body.detail;
    if (body && typeof body.limit === "string") {
      extra.limit = body.limit;
      extra.value = body.value ?? null;
    }
  } catch {
    // Not JSON (a proxy's error page): keep the status line.
  }
  if (response.status === 401) {
    const error = new AuthError(response.status, detail);
    unauthorized(error);
    return error;
  }
  return new ApiError(response.status, detail, extra);
}

async function send(method, path, { json, body, signal, key } = {}) {
  const headers = {};
  const presented = key ?? getKey();
  if (presented) headers.Authorization = `Bearer ${presented}`;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(path, { method, headers, body, signal });
  if (!response.ok) throw await errorFrom(response);
  return response;
}

async function sendJson(method, path, options) {
  return (await send(method, path, options)).json();
}

/** Whether the service answers GET /jobs with `key` (or with none). */
export async function accepts(key) {
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  const response = await fetch("/jobs?limit=1", { headers });
  if (response.ok) return true;
  if (response.status === 401) return false;
  throw await errorFrom(response);
}

export function listJobs({ status, limit = 20, offset = 0 } = {}, signal) {
  const query = new URLSearchParams({ limit, offset });
  if (status) query.set("status", status);
  return sendJson("GET", `/jobs?${query}`, { signal });
}

export function getJob(id, signal) {
  return sendJson("GET", `/jobs/${encodeURIComponent(id)}`, { signal });
}

export function cancelJob(id) {
  return sendJson("POST", `/jobs/${encodeURIComponent(id)}/cancel`);
}

export function getBuiltins(signal) {
  return sendJson("GET", "/builtins", { signal });
}

export function submitRangeTest(body) {
  return sendJson("POST", "/find-lr", { json: body });
}

export function submitTune(body) {
  return sendJson("POST", "/tune", { json: body });
}

function upload(path, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return sendJson("POST", path, { body: form });
}

export function uploadModel(file) {
  return upload("/uploads/models", file);
}

export function uploadDataset(file) {
  return upload("/uploads/datasets", file);
}

/** The server-rendered figure (`png` or `svg`) as a Blob: it needs the key, so no plain link. */
export async function curveBlob(id, extension) {
  const response = await send("GET", `/jobs/${encodeURIComponent(id)}/curve.${extension}`);
  return response.blob();
}

/** Split a text/event-stream body into `{type, id, data}` events (comments are dropped). */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      // Any of CRLF, LF, CR ends a line; a CR at the end of a chunk may be half of a CRLF.
      buffer = (buffer + value).replace(/\r\n|\r(?!$)/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event) yield event;
      }
    }
  } finally {
    // Stopped early (the `end` event, or the view went away): close the connection.
    await reader.cancel().catch(() => {});
  }
}

function parseEvent(block) {
  let type = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return data.length ? { type, id, data: data.join("\n") } : null;
}

/**
 * Follow GET /jobs/{id}/events (EventSource cannot send the key, so fetch reads the stream).
 * Calls `onEvent(type, data)` for each event; resolves true after `end`, false if the stream
 * closed before it.
 */
export async function followJob(id, onEvent, signal) {
  const response = await send("GET", `/jobs/${encodeURIComponent(id)}/events`, { signal });
  for await (const event of readEvents(response.body)) {
    onEvent(event.type, JSON.parse(event.data));
    if (event.type === "end") return true;
  }
  return false;
}

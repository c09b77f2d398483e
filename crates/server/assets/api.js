// The API client: the key lives in this tab's sessionStorage (not the persistent local store, never a URL)
// and goes out only as the Authorization header of same-origin requests.

const KEY = "backstop.key";

/** The key of this tab, or null. */
export function getKey() {
  return sessionStorage.getItem(KEY);
}

/** Keeps a key for this tab. */
export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

/** Forgets the key. */
export function clearKey() {
  sessionStorage.removeItem(KEY);
}

/** A refused request: HTTP status and the envelope's stable code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra) {
  return { Authorization: `Bearer ${getKey() ?? ""}`, ...extra };
}

/** Calls a JSON route; throws ApiError on an error envelope. */
export async function api(path, body) {
  const init = { method: "GET", headers: headers({}), cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = json && json.error;
    throw new ApiError(
      response.status,
      error ? error.code : `http_${response.status}`,
      error ? error.message : text.slice(0, 200),
    );
  }
  return json;
}

/**
 * Follows GET /v1/events/stream with fetch (EventSource cannot send an Authorization header):
 * calls onEvent({id, event, data}) per server-sent event until the stream ends or signal aborts.
 */
export async function stream(since, onEvent, signal) {
  const response = await fetch(`/v1/events/stream?since=${encodeURIComponent(since)}`, {
    headers: headers({ Accept: "text/event-stream" }),
    cache: "no-store",
    credentials: "omit",
    signal,
  });
  if (!response.ok) {
    let error = null;
    try {
      error = (await response.json()).error;
    } catch {
      error = null;
    }
    throw new ApiError(response.status, error ? error.code : "http", error ? error.message : "");
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (;;) {
      const end = /\r?\n\r?\n/.exec(buffer);
      if (!end) break;
      const block = buffer.slice(0, end.index);
      buffer = buffer.slice(end.index + end[0].length);
      const event = parseEvent(block);
      if (event) onEvent(event);
    }
  }
}

/** One server-sent event block; null for a comment-only block (keep-alive). */
export function parseEvent(block) {
  const event = { id: null, event: "message", data: [] };
  let any = false;
  for (const line of block.split(/\r?\n/)) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") event.data.push(value);
    else if (field === "id") event.id = value;
    else if (field === "event") event.event = value;
    any = true;
  }
  if (!any) return null;
  return { id: event.id, event: event.event, data: event.data.join("\n") };
}

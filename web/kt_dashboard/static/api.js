// Calls into the JSON API and its sockets with the host token the page was given.
const token = document.querySelector('meta[name="kt-token"]')?.content || "";

export function say(text) {
  document.getElementById("status").textContent = text;
}

export async function call(method, path, body, extraHeaders = {}) {
  const headers = { ...extraHeaders };
  if (token) headers["Authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || { type: "Error", message: response.statusText };
    throw new Error(`${error.type}: ${error.message}`);
  }
  return data;
}

// A piece of a page, rendered (and escaped) by the server like the page itself.
export async function fragment(path) {
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}: ${path}`);
  return response.text();
}

export function socket(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const protocols = token ? ["kt", `kt-token.${token}`] : ["kt"];
  return new WebSocket(`${scheme}//${location.host}${path}`, protocols);
}

// An element with text: model and tool output only ever goes in through textContent.
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

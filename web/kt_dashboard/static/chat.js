// The live part of the chat page: the creature's chat socket, streamed text, tool blocks,
// Interrupt. Streamed text is shown as plain text; once a piece of the reply is complete the
// server renders its Markdown (sanitized) and that replaces the plain text.
import { call, element, say, socket } from "./api.js";

const page = document.querySelector(".chat");
const sid = page.dataset.session;
const cid = page.dataset.creature;
const base = `/api/sessions/${encodeURIComponent(sid)}/creatures/${encodeURIComponent(cid)}`;
const transcript = document.getElementById("transcript");
const form = document.getElementById("chat-form");
const box = document.getElementById("message");
const interrupt = document.getElementById("interrupt");
const usage = document.getElementById("usage");

let reply = null; // the <li> of the reply being streamed
let segment = null; // its text part being streamed: {node, text}
const tools = new Map(); // call id -> the tool's <details>

function busy(on) {
  interrupt.disabled = !on;
  page.dataset.busy = String(on);
}

function replyItem() {
  if (!reply) {
    reply = element("li", "msg assistant");
    reply.append(element("div", "who", cid));
    transcript.append(reply);
  }
  return reply;
}

async function finishSegment() {
  if (!segment) return;
  const { node, text } = segment;
  segment = null;
  try {
    const { html } = await call("POST", "/api/dashboard/render", { text });
    node.innerHTML = html; // sanitized on the server (markdown-it with HTML off, then nh3)
    node.classList.replace("plain", "md");
  } catch (error) {
    say(error.message); // the plain text stays
  }
}

function addText(delta) {
  if (!segment) {
    segment = { node: element("div", "body plain streaming"), text: "" };
    replyItem().append(segment.node);
  }
  segment.text += delta;
  segment.node.textContent = segment.text;
}

function toolStarted(event) {
  finishSegment();
  const block = element("details", "tool");
  block.open = true;
  const args = typeof event.args === "string" ? event.args : JSON.stringify(event.args, null, 2);
  block.append(element("summary", "", `tool ${event.name}`), element("pre", "args", args));
  block.dataset.status = "running";
  replyItem().append(block);
  tools.set(event.call_id, block);
}

function toolDone(event) {
  const block = tools.get(event.call_id);
  if (!block) return;
  block.dataset.status = event.status;
  block.querySelector("summary").textContent = `tool ${event.name} · ${event.status}`;
  block.append(element("pre", "output", event.error || event.output || ""));
  block.open = false;
}

function nested(frame, kind) {
  const text = kind === "start" ? `sub-agent ${frame.event?.name || ""} started` :
    `sub-agent ${frame.event?.name || ""} done`;
  replyItem().append(element("div", "subagent muted", text));
}

// Questions and cards the creature waits on: shown in place, answered through the dashboard's route.
const requests = document.getElementById("requests");

async function showRequest(request) {
  if (requests.querySelector(`[data-request="${CSS.escape(request.request_id)}"]`)) return;
  const form = element("form", "request");
  form.dataset.request = request.request_id;
  const prompt = element("div", "md prompt", request.prompt || "");
  form.append(prompt);
  if (request.choices && request.choices.length) {
    const actions = element("div", "actions");
    for (const choice of request.choices) {
      const button = element("button", "", choice.label || choice.id);
      button.type = "submit";
      button.name = "answer";
      button.value = choice.id;
      actions.append(button);
    }
    form.append(actions);
  } else {
    const id = `answer-${request.request_id}`;
    const label = element("label", "", "Answer");
    label.htmlFor = id;
    const input = element("input");
    input.id = id;
    input.name = "answer";
    input.required = true;
    input.placeholder = request.placeholder || "";
    const actions = element("div", "actions");
    const button = element("button", "", "Reply");
    button.type = "submit";
    actions.append(button);
    form.append(label, input, actions);
  }
  requests.append(form);
  form.querySelector("input, button")?.focus();
  try {
    const { html } = await call("POST", "/api/dashboard/render", { text: request.prompt || "" });
    prompt.innerHTML = html; // sanitized on the server
  } catch (error) {
    say(error.message); // the plain prompt stays
  }
}

function closeRequest(requestId) {
  requests.querySelector(`[data-request="${CSS.escape(requestId)}"]`)?.remove();
}

requests.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const typed = form.querySelector('input[name="answer"]');
  const answer = event.submitter?.value || (typed ? typed.value : "");
  try {
    await call("POST", `/api/dashboard/sessions/${encodeURIComponent(sid)}/creatures/` +
      `${encodeURIComponent(cid)}/requests/${encodeURIComponent(form.dataset.request)}/answer`,
      { answer });
    closeRequest(form.dataset.request);
  } catch (error) {
    say(error.message);
  }
});

function activity(frame) {
  const event = frame.event || {};
  if (frame.activity_type === "user_answered") closeRequest(event.request_id);
  else if (event.request_id && event.prompt !== undefined && frame.activity_type !== "user_answered") {
    if (event.wait_for_reply === false) return; // a card shown, nobody waits
    showRequest(event);
  }
}

const chat = socket(`/ws/sessions/${encodeURIComponent(sid)}/creatures/${encodeURIComponent(cid)}/chat`);
chat.addEventListener("open", () => { form.dataset.connected = "true"; });
chat.addEventListener("close", () => {
  form.dataset.connected = "false";
  say("Disconnected from the creature; reload the page to reconnect.");
});
chat.addEventListener("message", async (message) => {
  const frame = JSON.parse(message.data);
  if (frame.source && frame.source !== cid) return; // another member of the session
  switch (frame.type) {
    case "user_input": {
      const item = element("li", "msg user");
      item.append(element("div", "who", "you"), element("div", "body plain", frame.content));
      transcript.append(item);
      break;
    }
    case "processing_start": busy(true); reply = null; break;
    case "text": addText(frame.content); break;
    case "tool_start": toolStarted(frame.event); break;
    case "tool_done": toolDone(frame.event); break;
    case "subagent_start": nested(frame, "start"); break;
    case "subagent_done": nested(frame, "done"); break;
    case "token_usage":
      if (frame.usage) usage.textContent = `${frame.usage.total_tokens ?? 0} tokens`;
      break;
    case "processing_end":
      await finishSegment();
      if (reply) reply.dataset.status = frame.status;
      if (frame.status !== "completed") replyItem().append(element("div", "muted", `turn ${frame.status}`));
      reply = null;
      busy(false);
      break;
    case "idle": busy(false); break;
    case "activity": activity(frame); break;
    case "error": say(`${frame.error?.type || "Error"}: ${frame.error?.message || ""}`); break;
  }
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const content = box.value.trim();
  if (!content) return;
  if (chat.readyState !== WebSocket.OPEN) {
    say("Not connected yet; try again in a moment.");
    return;
  }
  chat.send(JSON.stringify({ type: "input", content }));
  box.value = "";
});

box.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

interrupt.addEventListener("click", async () => {
  try {
    await call("POST", `${base}/interrupt`);
    say("Interrupted.");
  } catch (error) {
    say(error.message);
  }
});

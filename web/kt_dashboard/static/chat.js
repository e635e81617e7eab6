// The live part of the chat page: the creature's chat socket, streamed text, tool blocks with
// sub-agent activity nested in them, Interrupt, Regenerate, editing a past message.
// Streamed text is shown as plain text; once a piece of the reply is complete the server
// renders its Markdown (sanitized) and that replaces the plain text. Every frame is also
// dispatched on the page as a "kt-frame" event, for the panels (chat_panels.js).
import { call, element, say, socket } from "./api.js";

const page = document.querySelector(".chat");
const sid = page.dataset.session;
const cid = page.dataset.creature;
const base = `/api/sessions/${encodeURIComponent(sid)}/creatures/${encodeURIComponent(cid)}`;
const transcript = document.getElementById("transcript");
const form = document.getElementById("chat-form");
const box = document.getElementById("message");
const interrupt = document.getElementById("interrupt");
const regenerate = document.getElementById("regenerate");
const usage = document.getElementById("usage");

let reply = null; // the <li> of the reply being streamed
let segment = null; // its text part being streamed: {node, text}
const tools = new Map(); // call id -> the tool's <details>
let historyLength = Number(transcript.dataset.length || 0); // the creature's history, counted
let running = false;

function busy(on) {
  running = on;
  interrupt.disabled = !on;
  regenerate.disabled = on || !transcript.querySelector("li.msg.user");
  for (const button of transcript.querySelectorAll("button.edit")) button.disabled = on;
  page.dataset.busy = String(on);
}

// -- Rendering ---------------------------------------------------------------------------------

async function markdown(node, text) {
  try {
    const { html } = await call("POST", "/api/dashboard/render", { text });
    node.innerHTML = html; // sanitized on the server (markdown-it with HTML off, then nh3)
    node.classList.replace("plain", "md");
  } catch (error) {
    say(error.message); // the plain text stays
  }
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => part?.text || "").join("\n");
  return "";
}

function shownArgs(args) {
  return typeof args === "string" ? args : JSON.stringify(args, null, 2);
}

function userItem(text, index) {
  const item = element("li", "msg user");
  item.dataset.index = String(index);
  const actions = element("div", "actions");
  const edit = element("button", "edit", "Edit");
  edit.type = "button";
  edit.setAttribute("aria-label", `Edit: ${text.length > 40 ? `${text.slice(0, 39)}…` : text}`);
  edit.disabled = running;
  actions.append(edit);
  item.append(element("div", "who", "you"), element("div", "body plain", text), actions);
  return item;
}

// One message of a history the server replaced (regenerate, edit, compaction), shaped as the
// server renders it in chat.html.
function messageItem(message, index) {
  const text = textOf(message.content);
  if (message.role === "user") return userItem(text, index);
  if (message.role === "assistant") {
    const item = element("li", "msg assistant");
    item.dataset.index = String(index);
    item.append(element("div", "who", cid));
    if (text) {
      const body = element("div", "body plain", text);
      item.append(body);
      markdown(body, text);
    }
    for (const toolCall of message.tool_calls || []) {
      const block = element("details", "tool");
      block.append(element("summary", "", `tool ${toolCall.name}`),
        element("pre", "args", shownArgs(toolCall.args)));
      item.append(block);
    }
    return item;
  }
  if (message.role === "tool") {
    const item = element("li", "msg tool-result");
    item.dataset.index = String(index);
    const block = element("details", "tool");
    block.append(element("summary", "", `result ${message.name || ""}`), element("pre", "output", text));
    item.append(block);
    return item;
  }
  return null; // system messages are not shown
}

function replaceHistory(messages) {
  transcript.replaceChildren();
  messages.forEach((message, index) => {
    const item = messageItem(message, index);
    if (item) transcript.append(item);
  });
  historyLength = messages.length;
  reply = null;
  segment = null;
  tools.clear();
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
  await markdown(node, text);
}

function addText(delta) {
  if (!segment) {
    segment = { node: element("div", "body plain streaming"), text: "" };
    replyItem().append(segment.node);
  }
  segment.text += delta;
  segment.node.textContent = segment.text;
}

function toolBlock(event, into) {
  const block = element("details", "tool");
  block.open = true;
  block.append(element("summary", "", `tool ${event.name}`), element("pre", "args", shownArgs(event.args)));
  block.dataset.status = "running";
  block.dataset.call = event.call_id;
  into.append(block);
  return block;
}

function closeToolBlock(block, event) {
  block.dataset.status = event.status;
  block.querySelector(":scope > summary").textContent = `tool ${event.name} · ${event.status}`;
  block.append(element("pre", "output", event.error || event.output || ""));
  block.open = false;
}

function toolStarted(event) {
  finishSegment();
  tools.set(event.call_id, toolBlock(event, replyItem()));
}

function toolDone(event) {
  const block = tools.get(event.call_id);
  if (block) closeToolBlock(block, event);
}

// -- Sub-agents: their work is shown inside the tool block of the call that started them -------

const subagents = new Map(); // call id -> {node, log, text, tools}

function subagentStarted(event) {
  const holder = tools.get(event.call_id) || replyItem();
  const node = element("section", "subagent");
  node.dataset.call = event.call_id;
  node.dataset.status = "running";
  node.setAttribute("aria-label", `Sub-agent ${event.name}`);
  const log = element("ol", "subagent-log");
  node.append(element("div", "who", `sub-agent ${event.name}: ${event.task || ""}`), log);
  holder.append(node);
  subagents.set(event.call_id, { node, log, text: null, tools: new Map() });
}

function subagentEvent(wrapper) {
  const agent = subagents.get(wrapper.call_id);
  const inner = wrapper.event || {};
  if (!agent) return;
  if (inner.type === "text_delta") {
    if (!agent.text) {
      agent.text = element("li", "plain subagent-text", "");
      agent.log.append(agent.text);
    }
    agent.text.textContent += inner.text || "";
  } else if (inner.type === "tool_call_started") {
    agent.text = null;
    const item = element("li");
    agent.log.append(item);
    agent.tools.set(inner.call_id, toolBlock(inner, item));
  } else if (inner.type === "tool_call_completed") {
    const block = agent.tools.get(inner.call_id);
    if (block) closeToolBlock(block, inner);
  }
}

function subagentDone(event) {
  const agent = subagents.get(event.call_id);
  if (!agent) return;
  agent.node.dataset.status = event.status;
  const tokens = event.usage?.total_tokens ?? 0;
  agent.node.append(element("div", "muted", `sub-agent ${event.name} · ${event.status} · ${tokens} tokens`));
}

// -- Questions, cards and approvals the creature waits on: shown in place, answered through the
// dashboard's route.

const requests = document.getElementById("requests");

async function showRequest(request) {
  if (requests.querySelector(`[data-request="${CSS.escape(request.request_id)}"]`)) return;
  const form = element("form", "request");
  form.dataset.request = request.request_id;
  const prompt = element("div", "plain prompt", request.prompt || "");
  form.append(prompt);
  if (request.body) form.append(element("pre", "request-body", request.body)); // an approval's arguments
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
  await markdown(prompt, request.prompt || "");
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
  if (frame.activity_type === "subagent_event") subagentEvent(event);
  else if (frame.activity_type === "user_answered") closeRequest(event.request_id);
  else if (event.request_id && event.prompt !== undefined) {
    if (event.wait_for_reply === false) return; // a card shown, nobody waits
    showRequest(event);
  }
}

// -- The socket: frames are handled one after another, in order --------------------------------

async function handle(frame) {
  switch (frame.type) {
    case "message_appended": {
      const message = frame.event?.message || {};
      if (message.role === "user") transcript.append(userItem(textOf(message.content), historyLength));
      historyLength += 1;
      break;
    }
    case "history_replaced": replaceHistory(frame.event?.messages || []); break;
    case "processing_start": busy(true); reply = null; break;
    case "text": addText(frame.content); break;
    case "tool_start": toolStarted(frame.event); break;
    case "tool_done": toolDone(frame.event); break;
    case "subagent_start": subagentStarted(frame.event); break;
    case "subagent_done": subagentDone(frame.event); break;
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
}

let handled = Promise.resolve();
const chat = socket(`/ws/sessions/${encodeURIComponent(sid)}/creatures/${encodeURIComponent(cid)}/chat`);
chat.addEventListener("open", () => { form.dataset.connected = "true"; });
chat.addEventListener("close", () => {
  form.dataset.connected = "false";
  say("Disconnected from the creature; reload the page to reconnect.");
});
chat.addEventListener("message", (message) => {
  const frame = JSON.parse(message.data);
  if (frame.source && frame.source !== cid) return; // another member of the session
  handled = handled.then(() => handle(frame)).catch((error) => say(error.message));
  page.dispatchEvent(new CustomEvent("kt-frame", { detail: frame }));
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

// Regenerate and edit answer when their turn ends; the socket shows it meanwhile (the history
// the server replaced, then the new turn as it streams).
regenerate.addEventListener("click", async () => {
  regenerate.disabled = true;
  try {
    await call("POST", `${base}/regenerate`);
  } catch (error) {
    say(error.message);
    busy(running);
  }
});

function startEditing(item) {
  const body = item.querySelector(".body");
  const id = `edit-${item.dataset.index}`;
  const editor = element("form", "editor grid");
  const label = element("label", "", "Edited message");
  label.htmlFor = id;
  const text = element("textarea");
  text.id = id;
  text.rows = 3;
  text.value = body.textContent;
  const actions = element("div", "actions");
  const run = element("button", "", "Run edited message");
  run.type = "submit";
  const cancel = element("button", "cancel", "Cancel");
  cancel.type = "button";
  actions.append(run, cancel);
  editor.append(label, text, actions);
  item.querySelector(".actions").hidden = true;
  item.append(editor);
  text.focus();
  cancel.addEventListener("click", () => {
    editor.remove();
    item.querySelector(".actions").hidden = false;
    item.querySelector("button.edit").focus();
  });
  editor.addEventListener("submit", async (event) => {
    event.preventDefault();
    run.disabled = true;
    try {
      await call("POST", `${base}/messages/${item.dataset.index}/edit`, { content: text.value });
    } catch (error) {
      say(error.message);
      run.disabled = false;
    }
  });
}

transcript.addEventListener("click", (event) => {
  const button = event.target.closest("button.edit");
  if (button) startEditing(button.closest("li"));
});

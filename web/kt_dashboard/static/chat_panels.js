// The chat page's panels: the model picker, the scratchpad, the branches, the context meter.
// They follow the conversation through the frames chat.js dispatches as "kt-frame" events.
import { call, element, say } from "./api.js";

const page = document.querySelector(".chat");
const base = `/api/sessions/${encodeURIComponent(page.dataset.session)}/creatures/` +
  `${encodeURIComponent(page.dataset.creature)}`;

// -- Model picker ------------------------------------------------------------------------------

const modelForm = document.getElementById("model-form");
modelForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const model = new FormData(modelForm).get("model").trim();
  try {
    const creature = await call("POST", `${base}/model`, { model });
    document.getElementById("model-name").textContent = creature.model || model;
    say(`Model switched to ${creature.model || model}.`);
  } catch (error) {
    say(error.message);
  }
});

// -- Scratchpad --------------------------------------------------------------------------------

const pad = document.getElementById("scratchpad");
const padForm = document.getElementById("scratchpad-form");

function showScratchpad(entries) {
  pad.replaceChildren();
  for (const [key, value] of Object.entries(entries)) {
    const entry = element("div", "pad-entry");
    entry.dataset.key = key;
    const remove = element("button", "delete-pad", "Delete");
    remove.type = "button";
    remove.dataset.key = key;
    remove.setAttribute("aria-label", `Delete ${key} from the scratchpad`);
    const action = element("dd");
    action.append(remove);
    entry.append(element("dt", "", key), element("dd", "plain", value), action);
    pad.append(entry);
  }
  document.querySelector(".pad-empty").textContent = Object.keys(entries).length ? "" : "Empty.";
}

async function changeScratchpad(changes) {
  try {
    const { scratchpad } = await call("PATCH", `${base}/scratchpad`, changes);
    showScratchpad(scratchpad);
    return true;
  } catch (error) {
    say(error.message);
    return false;
  }
}

async function reloadScratchpad() {
  try {
    showScratchpad((await call("GET", `${base}/scratchpad`)).scratchpad);
  } catch (error) {
    say(error.message);
  }
}

padForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(padForm);
  if (await changeScratchpad({ [data.get("key")]: data.get("value") })) padForm.reset();
});

pad.addEventListener("click", (event) => {
  const button = event.target.closest("button.delete-pad");
  if (button) changeScratchpad({ [button.dataset.key]: null });
});

// -- Branches: every try of a turn the session recorded (Regenerate, Edit), and switching ------

const branchList = document.getElementById("branches");
const branchesEmpty = document.getElementById("branches-empty");

function branchItem(branch) {
  const name = branch.path.join(".");
  const how = branch.reason || "first";
  const item = element("li", branch.live ? "branch live" : "branch");
  item.append(element("span", "", `${name} (${how}): ${branch.input}`));
  if (branch.live) {
    item.append(element("span", "muted", " · shown"));
  } else {
    const button = element("button", "switch-branch", "Switch");
    button.type = "button";
    button.dataset.path = JSON.stringify(branch.path);
    button.setAttribute("aria-label", `Switch to branch ${name}`);
    item.append(button);
  }
  return item;
}

async function reloadBranches() {
  try {
    const history = await call("GET", `${base}/history`);
    const shown = history.branches.length > 1 ? history.branches : [];
    branchList.replaceChildren(...shown.map(branchItem));
    branchesEmpty.hidden = shown.length > 0;
  } catch (error) {
    say(error.message);
  }
}

branchList.addEventListener("click", async (event) => {
  const button = event.target.closest("button.switch-branch");
  if (!button) return;
  button.disabled = true;
  try {  // the conversation is redrawn from the history_replaced frame the switch sends
    await call("POST", `${base}/branches/select`, { path: JSON.parse(button.dataset.path) });
  } catch (error) {
    say(error.message);
  }
  await reloadBranches();
});

reloadBranches();

// -- Context window: how much of it the last model call's prompt used ---------------------------

const meter = document.getElementById("context-meter");
const contextText = document.getElementById("context-text");
const number = new Intl.NumberFormat("en");

function showContext(promptTokens) {
  if (meter) {
    const window = Number(meter.dataset.window);
    meter.value = Math.min(promptTokens, window);
    const share = Math.round((100 * promptTokens) / window);
    contextText.textContent = `${number.format(promptTokens)} of ${number.format(window)} tokens (${share}%)`;
  } else {
    contextText.textContent = `${number.format(promptTokens)} tokens in the last prompt`;
  }
}

page.addEventListener("kt-frame", ({ detail: frame }) => {
  if (frame.type === "token_usage" && frame.usage) showContext(frame.usage.prompt_tokens ?? 0);
  if (frame.type === "processing_end" || frame.type === "history_replaced") reloadBranches();
  // the creature (its scratchpad tool) or anyone else (this page, the API) changed it
  if (frame.type === "activity" && frame.activity_type === "scratchpad_write") reloadScratchpad();
});

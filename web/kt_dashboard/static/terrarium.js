// The live part of the terrarium page. One socket (the session's chat socket, which carries
// every member's activity) keeps it current: channel messages are added to the traffic, turn
// starts and ends change a creature's status in place, and a topology change (a creature or
// channel added or removed, an edge, a wire) asks the server for the drawing again.
import { call, element, fragment, say, socket } from "./api.js";

const sid = document.querySelector(".terrarium").dataset.session;
const topology = `/api/sessions/topology/${encodeURIComponent(sid)}`;
const traffic = document.getElementById("traffic");
const view = document.getElementById("graph-view");

const TOPOLOGY_EVENTS = new Set([
  "creature_added", "creature_removed", "creature_started", "creature_stopped",
  "channel_created", "channel_removed", "channel_edge", "output_wire_added",
  "output_wire_removed", "topology_changed",
]);

// -- The drawing and the creature list: rendered by the server, fetched again on a change ------

let fetching = null; // the fetch in flight
let again = false; // a change came while it ran: fetch once more after it

async function refresh() {
  if (fetching) {
    again = true;
    return fetching;
  }
  fetching = (async () => {
    do {
      again = false;
      try {
        view.innerHTML = await fragment(`/terrarium/${encodeURIComponent(sid)}/parts`); // escaped by the server
        await refreshNames();
      } catch (error) {
        say(error.message);
      }
    } while (again);
  })();
  await fetching;
  fetching = null;
  view.dataset.version = String(Number(view.dataset.version || 0) + 1);
}

function options(list, names) {
  list.replaceChildren(...names.map((name) => Object.assign(element("option"), { value: name })));
}

async function refreshNames() {
  const members = [...view.querySelectorAll("#creature-list [data-creature]")].map((li) => li.dataset.creature);
  options(document.getElementById("member-names"), members);
  const { channels } = await call("GET", `${topology}/channels`);
  const names = channels.map((channel) => channel.name);
  options(document.getElementById("channel-names"), names);
  const select = document.getElementById("channel");
  const chosen = select.value;
  select.replaceChildren(...names.map((name) => element("option", "", name)));
  if (names.includes(chosen)) select.value = chosen;
}

function showStatus(creature, status) {
  for (const node of view.querySelectorAll(`[data-creature="${CSS.escape(creature)}"]`)) {
    const state = node.querySelector(".state");
    if (state) state.textContent = status;
    node.dataset.status = status;
    if (node.classList.contains("node")) node.setAttribute("class", `node creature ${status}`);
  }
}

// -- The socket --------------------------------------------------------------------------------

function addTraffic(frame) {
  const item = element("li");
  const content = typeof frame.content === "string" ? frame.content : JSON.stringify(frame.content);
  item.append(element("span", "channel", `#${frame.channel}`), " ",
    element("span", "muted", frame.sender || ""), " ", element("span", "plain", content));
  traffic.append(item);
}

const events = socket(`/ws/sessions/${encodeURIComponent(sid)}/creatures/root/chat`);
events.addEventListener("message", (message) => {
  const frame = JSON.parse(message.data);
  if (frame.type === "channel_message" && !frame.history) addTraffic(frame);
  else if (frame.type === "processing_start") showStatus(frame.source, "busy");
  else if (frame.type === "idle") showStatus(frame.source, "idle");
  else if (frame.type === "activity") {
    if (frame.activity_type === "session_info") traffic.dataset.attached = "true";
    else if (TOPOLOGY_EVENTS.has(frame.activity_type)) refresh();
  }
});
events.addEventListener("close", () => say("Disconnected from the session; reload the page to reconnect."));

// -- Changing the graph ------------------------------------------------------------------------

function fields(form) {
  const body = {};
  for (const [key, value] of new FormData(form)) if (value) body[key] = value;
  return body;
}

function onSubmit(form, act) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await act(fields(form), event.submitter?.value);
      say("Done.");
    } catch (error) {
      say(error.message);
    }
  });
}

onSubmit(document.getElementById("add-creature-form"), async (body) => {
  await call("POST", `${topology}/creatures`, body);
  document.getElementById("add-creature-form").reset();
});

onSubmit(document.getElementById("add-channel-form"), async (body) => {
  await call("POST", `${topology}/channels`, body);
  document.getElementById("add-channel-form").reset();
});

onSubmit(document.getElementById("remove-channel-form"), async ({ name }) => {
  await call("DELETE", `${topology}/channels/${encodeURIComponent(name)}`);
  document.getElementById("remove-channel-form").reset();
});

onSubmit(document.getElementById("connect-form"), async (body, action) => {
  const { sender, receiver, channel } = body;
  if (action === "wire") await call("POST", `${topology}/wire`, { source: sender, target: receiver });
  else if (action === "unwire") await call("POST", `${topology}/unwire`, { source: sender, wire: receiver });
  else await call("POST", `${topology}/${action}`, { sender, receiver, channel });
});

view.addEventListener("click", async (event) => {
  const button = event.target.closest("button.remove-creature");
  if (!button) return;
  try {
    await call("DELETE", `${topology}/creatures/${encodeURIComponent(button.dataset.creature)}`);
  } catch (error) {
    say(error.message);
  }
});

const form = document.getElementById("channel-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const channel = encodeURIComponent(data.get("channel"));
  try {
    await call("POST", `${topology}/channels/${channel}/send`, { content: data.get("content") });
    form.reset();
  } catch (error) {
    say(error.message);
  }
});

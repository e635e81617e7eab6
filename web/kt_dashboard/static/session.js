// The session viewer's actions (resume, fork, delete) and its timeline filters.
import { call, say } from "./api.js";

const viewer = document.querySelector(".viewer");
const name = encodeURIComponent(viewer.dataset.name);

document.getElementById("resume").addEventListener("click", async () => {
  try {
    const session = await call("POST", `/api/sessions/${name}/resume`, {});
    location.href = `/chat/${encodeURIComponent(session.session_id)}/root`;
  } catch (error) {
    say(error.message);
  }
});

// A fork is a new saved session: the whole log, or the log up to the end of one turn.
async function fork(atEventId) {
  try {
    const body = atEventId === undefined ? {} : { at_event_id: atEventId };
    const forked = await call("POST", `/api/sessions/${name}/fork`, body);
    location.href = `/saved/${encodeURIComponent(forked.name)}`;
  } catch (error) {
    say(error.message);
  }
}

document.getElementById("fork").addEventListener("click", () => fork());
viewer.addEventListener("click", (event) => {
  const button = event.target.closest("button.fork-here");
  if (button) fork(Number(button.dataset.event));
});

document.getElementById("delete").addEventListener("click", async () => {
  if (!confirm(`Delete the saved session ${viewer.dataset.name}?`)) return;
  try {
    await call("DELETE", `/api/sessions/${name}`);
    location.href = "/saved";
  } catch (error) {
    say(error.message);
  }
});

const filters = document.getElementById("timeline-filters");
filters.addEventListener("change", () => {
  const shown = new Set([...filters.querySelectorAll("input:checked")].map((box) => box.value));
  for (const entry of viewer.querySelectorAll("li.event")) {
    entry.hidden = !shown.has(entry.dataset.category);
  }
});

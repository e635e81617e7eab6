import { call, say } from "./api.js";

const resume = document.getElementById("resume");
const name = encodeURIComponent(resume.dataset.name);

resume.addEventListener("click", async () => {
  try {
    const session = await call("POST", `/api/sessions/${name}/resume`, {});
    location.href = `/chat/${encodeURIComponent(session.session_id)}/root`;
  } catch (error) {
    say(error.message);
  }
});

document.getElementById("delete").addEventListener("click", async () => {
  if (!confirm(`Delete the saved session ${resume.dataset.name}?`)) return;
  try {
    await call("DELETE", `/api/sessions/${name}`);
    location.href = "/saved";
  } catch (error) {
    say(error.message);
  }
});

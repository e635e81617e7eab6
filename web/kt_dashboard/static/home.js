import { call, say } from "./api.js";

const form = document.getElementById("start-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const kind = event.submitter?.value || "creature";
  const data = new FormData(form);
  const body = { config_path: data.get("config_path") };
  for (const field of ["llm", "pwd", "name"]) {
    if (data.get(field)) body[field] = data.get(field);
  }
  say(`Starting ${kind}…`);
  try {
    const session = await call("POST", `/api/sessions/active/${kind}`, body);
    const sid = encodeURIComponent(session.session_id);
    location.href = kind === "terrarium" ? `/terrarium/${sid}` : `/chat/${sid}/root`;
  } catch (error) {
    say(error.message);
  }
});

for (const button of document.querySelectorAll("button.stop")) {
  button.addEventListener("click", async () => {
    try {
      await call("DELETE", `/api/sessions/active/${encodeURIComponent(button.dataset.session)}`);
      button.closest("li").remove();
      say("Stopped.");
    } catch (error) {
      say(error.message);
    }
  });
}

for (const button of document.querySelectorAll("button.resume")) {
  button.addEventListener("click", async () => {
    try {
      const session = await call("POST", `/api/sessions/${encodeURIComponent(button.dataset.name)}/resume`, {});
      location.href = `/chat/${encodeURIComponent(session.session_id)}/root`;
    } catch (error) {
      say(error.message);
    }
  });
}

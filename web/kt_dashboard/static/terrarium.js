import { call, element, say, socket } from "./api.js";

const sid = document.querySelector(".terrarium").dataset.session;
const traffic = document.getElementById("traffic");

const observer = socket(`/ws/sessions/${encodeURIComponent(sid)}/observer`);
observer.addEventListener("message", (event) => {
  const frame = JSON.parse(event.data);
  if (frame.type === "activity" && frame.activity_type === "attached") {
    traffic.dataset.attached = "true";
  }
  if (frame.type !== "channel_message") return;
  const item = element("li");
  item.append(element("span", "channel", `#${frame.channel}`), " ",
    element("span", "muted", frame.sender || ""), " ",
    element("span", "plain", typeof frame.content === "string" ? frame.content : JSON.stringify(frame.content)));
  traffic.append(item);
});

const form = document.getElementById("channel-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const channel = encodeURIComponent(data.get("channel"));
  try {
    await call("POST", `/api/sessions/topology/${encodeURIComponent(sid)}/channels/${channel}/send`,
      { content: data.get("content") });
    form.reset();
  } catch (error) {
    say(error.message);
  }
});

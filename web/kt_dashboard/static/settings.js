import { call, say } from "./api.js";

function adminHeaders() {
  const field = document.getElementById("admin-token");
  return field && field.value ? { "X-KT-Admin-Token": field.value } : {};
}

const form = document.getElementById("key-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const provider = encodeURIComponent(data.get("provider"));
  try {
    await call("PUT", `/api/settings/keys/${provider}`, { key: data.get("key") }, adminHeaders());
    location.reload();
  } catch (error) {
    say(error.message);
  }
});

for (const button of document.querySelectorAll("button.delete-key")) {
  button.addEventListener("click", async () => {
    const provider = encodeURIComponent(button.dataset.provider);
    try {
      await call("DELETE", `/api/settings/keys/${provider}`, undefined, adminHeaders());
      location.reload();
    } catch (error) {
      say(error.message);
    }
  });
}

const modelForm = document.getElementById("model-form");
modelForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const model = new FormData(modelForm).get("model") || null; // empty: no default
  try {
    await call("PUT", "/api/settings/default-model", { model }, adminHeaders());
    location.reload();
  } catch (error) {
    say(error.message);
  }
});

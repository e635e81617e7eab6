// The settings page's changes, each one call of the settings or catalog API; the page is then
// loaded again, so what it shows is what the server has.
import { call, say } from "./api.js";

function adminHeaders() {
  const field = document.getElementById("admin-token");
  return field && field.value ? { "X-KT-Admin-Token": field.value } : {};
}

async function change(method, path, body) {
  try {
    await call(method, path, body, adminHeaders());
    location.reload();
  } catch (error) {
    say(error.message);
  }
}

function onSubmit(id, act) {
  const form = document.getElementById(id);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(new FormData(form));
  });
}

function onClick(selector, act) {
  for (const button of document.querySelectorAll(selector)) {
    button.addEventListener("click", () => act(button.dataset));
  }
}

// Empty fields are left out, so the server's defaults apply.
function filled(data) {
  return Object.fromEntries([...data].filter(([, value]) => value !== ""));
}

onSubmit("key-form", (data) =>
  change("PUT", `/api/settings/keys/${encodeURIComponent(data.get("provider"))}`, { key: data.get("key") }));
onClick("button.delete-key", ({ provider }) =>
  change("DELETE", `/api/settings/keys/${encodeURIComponent(provider)}`));

onSubmit("model-form", (data) =>
  change("PUT", "/api/settings/default-model", { model: data.get("model") || null })); // empty: none

onSubmit("profile-form", (data) => change("POST", "/api/settings/profiles", filled(data)));
onClick("button.delete-profile", ({ name }) =>
  change("DELETE", `/api/settings/profiles/${encodeURIComponent(name)}`));

onSubmit("mcp-form", (data) => {
  const settings = filled(data);
  delete settings.name;
  if (settings.args) settings.args = settings.args.split("\n").map((arg) => arg.trim()).filter(Boolean);
  return change("POST", "/api/settings/mcp", { name: data.get("name"), settings });
});
onClick("button.delete-mcp", ({ name }) => change("DELETE", `/api/settings/mcp/${encodeURIComponent(name)}`));
// A test starts the server, lists its tools and stops it; the answer is shown in its row.
for (const button of document.querySelectorAll("button.test-mcp")) {
  button.addEventListener("click", async () => {
    const result = button.closest("td").querySelector("output.mcp-result");
    result.textContent = "Testing…";
    button.disabled = true;
    try {
      const found = await call(
        "POST", `/api/settings/mcp/${encodeURIComponent(button.dataset.name)}/test`, undefined,
        adminHeaders());
      result.textContent = found.ok
        ? `Connected: ${found.tools.length} tools (${found.tools.join(", ")})`
        : `Failed: ${found.error}`;
    } catch (error) {
      result.textContent = error.message;
    }
    button.disabled = false;
  });
}

onSubmit("pack-form", (data) => {
  say(`Installing ${data.get("source")}…`);
  return change("POST", "/api/catalog/packages", { source: data.get("source") });
});
onClick("button.update-pack", ({ name }) =>
  change("POST", `/api/catalog/packages/${encodeURIComponent(name)}/update`));
onClick("button.uninstall-pack", ({ name }) =>
  change("DELETE", `/api/catalog/packages/${encodeURIComponent(name)}`));

// Light or dark: the saved choice, else the system's; the button switches and remembers.
const root = document.documentElement;
const button = document.getElementById("theme-toggle");

function apply(theme) {
  root.dataset.theme = theme;
  button.setAttribute("aria-pressed", String(theme === "dark"));
}

const system = matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
apply(localStorage.getItem("kt-theme") || system);
button.addEventListener("click", () => {
  const next = root.dataset.theme === "dark" ? "light" : "dark";
  localStorage.setItem("kt-theme", next);
  apply(next);
});

// The web chat page: sends what the person types, polls what we answered. Text only (textContent): nothing is HTML.
"use strict";
const log = document.getElementById("log");
const hint = log.querySelector(".hint");
let shown = "";

async function post(path, body) {
  const answer = await fetch(path, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Requested-With": "webchat"}, body: JSON.stringify(body)});
  if (!answer.ok) { const problem = await answer.json().catch(() => ({})); alert(problem.error || "Ошибка"); }
  setTimeout(poll, 300);
}

function render(messages) {
  log.replaceChildren(hint);
  for (const message of messages) {
    const item = document.createElement("div");
    item.className = "msg " + message.from;
    item.textContent = message.text;
    if (message.buttons && message.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const button of message.buttons.flat()) {
        const control = document.createElement(button.url ? "a" : "button");
        control.textContent = button.label;
        if (button.url) { control.href = button.url; control.rel = "noopener"; }
        else { control.type = "button"; control.addEventListener("click", () => post("/chat/send", {payload: button.payload})); }
        row.appendChild(control);
      }
      item.appendChild(row);
    }
    log.appendChild(item);
  }
  log.scrollTop = log.scrollHeight;
}

async function poll() {
  try {
    const answer = await fetch("/chat/messages", {credentials: "same-origin"});
    const data = await answer.json();
    const signature = JSON.stringify(data.messages);
    if (signature !== shown) { shown = signature; render(data.messages); }
  } catch (error) { /* the next poll tries again */ }
}

document.getElementById("send").addEventListener("submit", (event) => {
  event.preventDefault();
  const field = document.getElementById("text");
  const text = field.value.trim();
  if (text) { field.value = ""; post("/chat/send", {text}); }
});
document.getElementById("email").addEventListener("click", () => post("/chat/send", {text: "/chat_email"}));
document.getElementById("leave").addEventListener("click", async () => {
  await fetch("/chat/leave", {method: "POST", credentials: "same-origin", headers: {"X-Requested-With": "webchat"}});
  location.href = "/chat";
});
// a link from the bot arrives as /chat#t=…: handed back once, then gone from the address bar and history
const link = new URLSearchParams(location.hash.slice(1)).get("t");
if (link) { history.replaceState(null, "", "/chat"); post("/chat/send", {text: "/chat_login " + link}); }
poll();
setInterval(poll, 1500);

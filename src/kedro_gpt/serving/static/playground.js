// The kedro-gpt playground: chat or completion against this server's OpenAI-compatible API,
// tokens streamed as they come, and feedback (rating, comment, edited answer) on every answer.
// The API key stays in this page's memory and goes only into the Authorization header.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, version: "", messages: [], controller: null };

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api_key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

// The request's sampling settings; a blank seed samples afresh each time, a number repeats the answer.
function sampling() {
  const settings = {
    temperature: Number($("temperature").value),
    top_p: Number($("top_p").value),
    max_tokens: Math.round(Number($("max_tokens").value)),
  };
  const seed = $("seed").value.trim();
  if (seed !== "") settings.seed = Math.round(Number(seed));
  return settings;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return (body.error && body.error.message) || response.statusText;
  } catch (_) {
    return response.statusText;
  }
}

async function loadModel() {
  try {
    const response = await fetch("/health");
    const health = await response.json();
    state.model = health.model;
    state.version = health.model_version || "";
    $("model").textContent = "model: " + health.model + (state.version ? " version " + state.version : "");
  } catch (err) {
    $("model").textContent = "model: unreachable (" + err + ")";
  }
}

function turn(who, text) {
  const div = document.createElement("div");
  div.className = "turn " + who;
  const label = document.createElement("div");
  label.className = "who";
  label.textContent = who;
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  div.append(label, body);
  $("log").append(div);
  return div;
}

// Server-sent events from a fetch body: calls onData with each parsed "data:" payload.
async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onData(JSON.parse(data));
      }
    }
  }
}

async function send(event) {
  event.preventDefault();
  const text = $("prompt").value;
  if (!text.trim() || state.controller) return;
  const mode = $("mode").value;
  const settings = sampling();
  const exchange = { mode, sampling: settings };
  let url, body;
  if (mode === "chat") {
    state.messages.push({ role: "user", content: text });
    exchange.messages = state.messages.map((m) => ({ ...m }));
    url = "/v1/chat/completions";
    body = { model: state.model, messages: exchange.messages, stream: true, ...settings };
  } else {
    exchange.prompt = text;
    url = "/v1/completions";
    body = { model: state.model, prompt: text, stream: true, ...settings };
  }
  turn(mode === "chat" ? "user" : "prompt", text);
  $("prompt").value = "";
  const answer = turn("assistant", "");
  const out = answer.querySelector(".text");
  state.controller = new AbortController();
  $("send").disabled = true;
  $("stop").disabled = false;
  $("state").textContent = "generating…";
  let finish = null;
  try {
    const response = await fetch(url, {
      method: "POST", headers: headers(), body: JSON.stringify(body), signal: state.controller.signal,
    });
    if (!response.ok) throw new Error(await errorText(response));
    exchange.version = response.headers.get("x-model-version") || state.version;
    await readEvents(response, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      const choice = chunk.choices && chunk.choices[0];
      if (!choice) return;
      out.textContent += mode === "chat" ? (choice.delta.content || "") : (choice.text || "");
      if (choice.finish_reason) finish = choice.finish_reason;
    });
    $("state").textContent = "finished: " + (finish || "done");
  } catch (err) {
    if (err.name === "AbortError") {
      $("state").textContent = "stopped";
    } else {
      $("state").textContent = "";
      const shown = document.createElement("div");
      shown.className = "error";
      shown.textContent = "error: " + err.message;
      answer.append(shown);
    }
  } finally {
    state.controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
  exchange.answer = out.textContent;
  if (mode === "chat") state.messages.push({ role: "assistant", content: exchange.answer });
  if (exchange.answer) addFeedback(answer, exchange);
}

function addFeedback(answer, exchange) {
  const box = document.createElement("div");
  box.className = "feedback";
  let rating = null;
  const up = document.createElement("button");
  const down = document.createElement("button");
  up.type = down.type = "button";
  up.textContent = "Good";  // words, not emoji: no emoji font is needed to read them
  down.textContent = "Bad";
  up.title = "a good answer (thumbs up)";
  down.title = "a bad answer (thumbs down)";
  up.className = "rate-up";
  down.className = "rate-down";
  for (const [button, value] of [[up, "up"], [down, "down"]]) {
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => {
      rating = rating === value ? null : value;
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
    });
  }
  const comment = document.createElement("input");
  comment.type = "text";
  comment.className = "comment";
  comment.placeholder = "comment (optional)";
  comment.maxLength = 2000;
  const edit = document.createElement("button");
  edit.type = "button";
  edit.className = "edit";
  edit.textContent = "Edit the answer";
  const edited = document.createElement("textarea");
  edited.className = "edited";
  edited.rows = 3;
  edited.hidden = true;
  edit.addEventListener("click", () => {
    edited.hidden = false;
    if (!edited.value) edited.value = exchange.answer;
    edited.focus();
  });
  const save = document.createElement("button");
  save.type = "button";
  save.className = "send-feedback";
  save.textContent = "Send feedback";
  const status = document.createElement("span");
  status.className = "status";
  save.addEventListener("click", async () => {
    const body = {
      answer: exchange.answer,
      rating,
      comment: comment.value.trim() || null,
      edited_answer: !edited.hidden && edited.value !== exchange.answer ? edited.value : null,
      model: state.model,
      model_version: exchange.version || null,
      sampling: exchange.sampling,
    };
    if (exchange.mode === "chat") body.messages = exchange.messages;
    else body.prompt = exchange.prompt;
    status.className = "status";
    status.textContent = "saving…";
    try {
      const response = await fetch("/v1/feedback", {
        method: "POST", headers: headers(), body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(await errorText(response));
      const saved = await response.json();
      status.textContent = "saved (#" + saved.id + ")";
    } catch (err) {
      status.className = "status error";
      status.textContent = "not saved: " + err.message;
    }
  });
  box.append(up, down, comment, edit, save, status, edited);
  answer.append(box);
}

$("ask").addEventListener("submit", send);
$("stop").addEventListener("click", () => state.controller && state.controller.abort());
$("clear").addEventListener("click", () => {
  state.messages = [];
  $("log").textContent = "";
  $("state").textContent = "";
});
$("mode").addEventListener("change", () => $("clear").click());
loadModel();

// The question box (see composer.py): a multi-line textarea and a send button.
// Korean IME safety: the text is read from the textarea only when it is sent, and it is
// sent only by the button (a click ends any composition first) or Ctrl/Cmd+Enter outside
// a composition (isComposing / keyCode 229 are ignored). Plain Enter inserts a new line.
// Nothing is synced while typing, so the kernel never sees half-composed syllables.

function render({ model, el }) {
  el.classList.add("chatkit-composer");
  const area = document.createElement("textarea");
  area.rows = 3;
  area.placeholder = model.get("placeholder");
  const send = document.createElement("button");
  send.type = "button";
  send.className = "chatkit-send";
  send.textContent = model.get("send_label");
  el.append(area, send);

  let composing = false;
  let sent = null;  // the text of the last send, cleared once the kernel accepts it

  function submit() {
    const text = area.value;
    if (composing || model.get("disabled") || !text.trim()) return;
    sent = text;
    model.send({ type: "send", text });
  }

  area.addEventListener("compositionstart", () => { composing = true; });
  area.addEventListener("compositionend", () => { composing = false; });
  area.addEventListener("keydown", (event) => {
    event.stopPropagation();  // keep JupyterLab's notebook shortcuts out of the text box
    if (event.isComposing || event.keyCode === 229) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  });
  send.addEventListener("click", submit);

  function onCustom(msg) {
    // Clear only what was sent, and never during a composition (the syllable would return).
    if (msg.type === "accepted" && !composing && area.value === sent) area.value = "";
    sent = null;
  }
  function paint() {
    send.disabled = model.get("disabled");
    area.placeholder = model.get("placeholder");
    send.textContent = model.get("send_label");
  }
  const traits = ["disabled", "placeholder", "send_label"];
  for (const name of traits) model.on(`change:${name}`, paint);
  model.on("msg:custom", onCustom);
  paint();
  return () => {
    for (const name of traits) model.off(`change:${name}`, paint);
    model.off("msg:custom", onCustom);
  };
}

export default { render };

// One chat message (see bubble.py). Finished messages show `html`, which Python built
// from Markdown with raw HTML escaped and then sanitised (nh3). A streaming answer shows
// plain text appended from "delta" messages with textContent: never parsed as HTML.

function copyText(text, done) {
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
    return;
  }
  const area = document.createElement("textarea");  // older browsers, plain http
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch (err) {
    ok = false;
  }
  area.remove();
  done(ok);
}

function button(label, className, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function render({ model, el }) {
  el.classList.add("chatkit-msg");
  const body = document.createElement("div");
  body.className = "chatkit-body";
  const stream = document.createElement("div");
  stream.className = "chatkit-stream";
  stream.dir = "auto";  // like render.py's dir="auto": bidi controls stay inside (bubble.css)
  const footer = document.createElement("div");
  footer.className = "chatkit-footer";
  const meta = document.createElement("span");
  meta.className = "chatkit-meta";
  const copy = button("복사 (copy)", "chatkit-copy", () => {
    copyText(model.get("text"), (ok) => {
      copy.textContent = ok ? "복사됨 ✓ (copied)" : "Ctrl+C로 복사하세요";
      if (!ok) {
        const range = document.createRange();  // select the answer for a manual copy
        range.selectNodeContents(body);
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
      }
      setTimeout(() => { copy.textContent = "복사 (copy)"; }, 1500);
    });
  });
  const again = button("다시 생성 (regenerate)", "chatkit-regenerate", () => {
    model.send({ type: "regenerate" });
  });
  footer.append(meta, copy, again);
  el.append(body, stream, footer);

  function paint() {
    const status = model.get("status");
    el.dataset.role = model.get("role");
    el.dataset.status = status;
    if (status === "streaming") {
      body.hidden = true;
      stream.hidden = false;
    } else {
      body.innerHTML = model.get("html");  // sanitised in Python (render.py)
      body.hidden = false;
      stream.hidden = true;
      stream.textContent = "";
    }
    meta.textContent = model.get("footer");
    copy.hidden = again.hidden = !model.get("actions");
    footer.hidden = !model.get("footer") && !model.get("actions");
  }

  function onCustom(msg) {
    if (msg.type === "delta") {
      stream.append(msg.text);
    } else if (msg.type === "reset") {
      stream.textContent = msg.text;
    }
  }

  const traits = ["role", "status", "html", "footer", "actions"];
  for (const name of traits) model.on(`change:${name}`, paint);
  model.on("msg:custom", onCustom);
  paint();
  if (model.get("status") === "streaming") {
    model.send({ type: "resync" });  // a view opened mid-answer asks for the text so far
  }
  return () => {
    for (const name of traits) model.off(`change:${name}`, paint);
    model.off("msg:custom", onCustom);
  };
}

export default { render };

// Reader view of one blinded case: the image with window/level and zoom done in the browser
// (canvas pixel operations, no server round trip), a real/fake call with a confidence, optional
// marks and a note, and keyboard shortcuts. The server pushes one case at a time (opaque id +
// data URL) and bumps `revision`; the browser answers with one `submit` message per case.

const TYPING = new Set(["TEXTAREA", "SELECT"]);
const TEXT_INPUTS = new Set(["text", "search", "email", "password", "number", "url", "tel"]);
const SUBMIT_TIMEOUT_MS = 15000;
// A second click or key press that lands just after the next case appeared belongs to the
// previous answer (double click, key repeat): it is dropped silently, not reported as an error.
const BOUNCE_MS = 1000;

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function isTyping(target) {
  if (!target || !target.tagName) return false;
  if (TYPING.has(target.tagName) || target.isContentEditable) return true;
  return target.tagName === "INPUT" && TEXT_INPUTS.has((target.type || "text").toLowerCase());
}

export function render({ model, el, view }) {
  const st = {
    call: null, confidence: null, marks: [], kind: "finding", busy: false,
    zoom: 1, cx: 0.5, cy: 0.5, win: 255, lev: 127.5,
    gray: null, w: 0, h: 0, shownCase: null, shownAt: 0, sentAt: null, submitTimer: null,
    reloading: false,
  };
  window.__gaTimings = window.__gaTimings || [];
  // Tells the page's load watchdog (serve.py) that the app arrived and drew itself.
  window.__gaRendered = true;
  // Dark surround for the whole page, not just this component (reading-room habit).
  document.body.style.background = "#111";

  // ---- layout --------------------------------------------------------------------------
  const root = h("div", "ga-reader");
  root.dataset.state = "loading";
  const top = h("div", "ga-top");
  const progress = h("span", "ga-progress");
  const practice = h("span", "ga-practice", "Practice case (does not count)");
  // Sign-out is a same-site POST: the server refuses a GET or a request from another site.
  const who = h("span", "ga-who", model.reader ? `Signed in as ${model.reader}` : "");
  const logout = h("form", "ga-logout-form");
  logout.method = "post";
  logout.action = "./logout";
  logout.append(h("button", "ga-logout", "Sign out"));
  top.append(progress, practice, who, logout);

  const body = h("div", "ga-body");
  const stage = h("div", "ga-stage");
  const canvas = h("canvas", "ga-canvas");
  canvas.width = 768;
  canvas.height = 768;
  canvas.tabIndex = -1;
  stage.append(canvas);
  const side = h("div", "ga-side");
  body.append(stage, side);

  const wl = h("fieldset", "ga-box");
  wl.append(h("legend", "", "Display (right-drag on image: window/level)"));
  const winIn = h("input", "ga-window");
  Object.assign(winIn, { type: "range", min: 1, max: 510, step: 1, value: 255 });
  const levIn = h("input", "ga-level");
  Object.assign(levIn, { type: "range", min: 0, max: 255, step: 0.5, value: 127.5 });
  const winLab = h("label", "ga-row", "Window ");
  winLab.append(winIn);
  const levLab = h("label", "ga-row", "Level ");
  levLab.append(levIn);
  const zoomRow = h("div", "ga-row");
  const zoomOut = h("button", "ga-zoom-out", "−");
  const zoomLabel = h("span", "ga-zoom-label", "100%");
  const zoomIn = h("button", "ga-zoom-in", "+");
  const resetBtn = h("button", "ga-reset", "Reset (0)");
  zoomRow.append(h("span", "", "Zoom "), zoomOut, zoomLabel, zoomIn, resetBtn);
  wl.append(winLab, levLab, zoomRow);

  const markBox = h("fieldset", "ga-box");
  markBox.append(h("legend", "", "Mark a region (click the image)"));
  const kindRow = h("div", "ga-row");
  const kindBtns = {};
  for (const kind of ["finding", "artifact"]) {
    const b = h("button", "ga-kind", kind === "finding" ? "Suspected finding" : "Artifact");
    b.dataset.kind = kind;
    kindBtns[kind] = b;
    kindRow.append(b);
  }
  const markCount = h("span", "ga-mark-count", "0 marks");
  const clearMarks = h("button", "ga-clear-marks", "Clear marks");
  const markRow = h("div", "ga-row");
  markRow.append(markCount, clearMarks);
  markBox.append(kindRow, markRow);

  const answerBox = h("fieldset", "ga-box");
  answerBox.append(h("legend", "", "Your call"));
  const callRow = h("div", "ga-row");
  const callBtns = {};
  for (const [call, text] of [["real", "Real (R)"], ["fake", "Fake (F)"]]) {
    const b = h("button", `ga-call ga-call-${call}`, text);
    b.dataset.call = call;
    callBtns[call] = b;
    callRow.append(b);
  }
  const confRow = h("div", "ga-row");
  const confBtns = {};
  for (const [c, text] of [[1, "1 unsure"], [2, "2 fairly sure"], [3, "3 certain"]]) {
    const b = h("button", "ga-confidence", text);
    b.dataset.confidence = String(c);
    confBtns[c] = b;
    confRow.append(b);
  }
  const note = h("textarea", "ga-note");
  note.placeholder = "Note (optional)";
  note.rows = 3;
  // No length attribute: the browser would cut a pasted note without a word. The limit is the
  // store's (model.max_note); an over-long note is refused with a message instead.
  const noteCount = h("div", "ga-note-count", "");
  const submitBtn = h("button", "ga-submit", "Next (Enter)");
  // Studies that allow changes: go back to an answered case, or return to the current one.
  const changeRow = h("div", "ga-row");
  const backBtn = h("button", "ga-back", "◀ Change previous answer (B)");
  const resumeBtn = h("button", "ga-resume", "Back to the current case (Esc)");
  changeRow.append(backBtn, resumeBtn);
  answerBox.append(callRow, confRow, note, noteCount, submitBtn, changeRow);

  const notice = h("div", "ga-notice");
  const feedback = h("div", "ga-feedback");
  const help = h("div", "ga-help",
    "Keys: R real · F fake · 1/2/3 confidence · Enter or N next · +/− zoom · 0 reset view · " +
    "Esc leaves the note. Drag to pan when zoomed." +
    (model.can_change ? " B changes the previous answer, Esc returns to the current case." : ""));
  side.append(answerBox, notice, feedback, wl, markBox, help);

  const done = h("div", "ga-finished", "All cases are read. Thank you! You can close this page.");
  root.append(top, body, done);

  // ---- drawing -------------------------------------------------------------------------
  const proc = document.createElement("canvas");
  const pctx = proc.getContext("2d");
  const ctx = canvas.getContext("2d");
  let procData = null;

  function applyWindow() {
    if (!st.gray) return;
    const lo = st.lev - st.win / 2;
    const scale = 255 / st.win;
    const px = procData.data;
    for (let i = 0, j = 0; i < st.gray.length; i++, j += 4) {
      let v = (st.gray[i] - lo) * scale;
      v = v < 0 ? 0 : v > 255 ? 255 : v;
      px[j] = px[j + 1] = px[j + 2] = v;
      px[j + 3] = 255;
    }
    pctx.putImageData(procData, 0, 0);
  }

  function geometry() {
    const base = Math.min(canvas.width / st.w, canvas.height / st.h);
    const s = base * st.zoom;
    return { s, dx: canvas.width / 2 - st.cx * st.w * s, dy: canvas.height / 2 - st.cy * st.h * s };
  }

  function draw() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!st.gray) return;
    const { s, dx, dy } = geometry();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(proc, dx, dy, st.w * s, st.h * s);
    for (const m of st.marks) {
      ctx.beginPath();
      ctx.lineWidth = 3;
      ctx.strokeStyle = m.kind === "finding" ? "#ffd23f" : "#3fd2ff";
      ctx.arc(dx + m.x * st.w * s, dy + m.y * st.h * s, 14, 0, 2 * Math.PI);
      ctx.stroke();
    }
    zoomLabel.textContent = `${Math.round(st.zoom * 100)}%`;
    winIn.value = String(st.win);
    levIn.value = String(st.lev);
  }

  function resetView() {
    st.zoom = 1; st.cx = 0.5; st.cy = 0.5; st.win = 255; st.lev = 127.5;
    applyWindow();
    draw();
  }

  function setZoom(z, ax, ay) {
    const nz = Math.min(16, Math.max(1, z));
    if (ax !== undefined) {
      // keep the image point under the cursor fixed
      st.cx = ax + (st.cx - ax) * st.zoom / nz;
      st.cy = ay + (st.cy - ay) * st.zoom / nz;
    }
    st.zoom = nz;
    if (nz === 1) { st.cx = 0.5; st.cy = 0.5; }
    draw();
  }

  function toImage(evt) {
    const r = canvas.getBoundingClientRect();
    const px = (evt.clientX - r.left) * canvas.width / r.width;
    const py = (evt.clientY - r.top) * canvas.height / r.height;
    const { s, dx, dy } = geometry();
    return { x: (px - dx) / (st.w * s), y: (py - dy) / (st.h * s), px, py };
  }

  function loadImage(src, onReady) {
    const img = new Image();
    img.onload = () => {
      proc.width = img.naturalWidth;
      proc.height = img.naturalHeight;
      pctx.drawImage(img, 0, 0);
      const rgba = pctx.getImageData(0, 0, proc.width, proc.height).data;
      st.w = proc.width;
      st.h = proc.height;
      st.gray = new Uint8ClampedArray(st.w * st.h);
      for (let i = 0; i < st.gray.length; i++) st.gray[i] = rgba[4 * i];
      procData = pctx.createImageData(st.w, st.h);
      resetView();
      onReady();
    };
    img.src = src;
  }

  // ---- answer state --------------------------------------------------------------------
  function refreshControls() {
    for (const [k, b] of Object.entries(callBtns)) b.classList.toggle("ga-selected", st.call === k);
    for (const [k, b] of Object.entries(confBtns)) b.classList.toggle("ga-selected", st.confidence === Number(k));
    for (const [k, b] of Object.entries(kindBtns)) b.classList.toggle("ga-selected", st.kind === k);
    markCount.textContent = `${st.marks.length} mark${st.marks.length === 1 ? "" : "s"}`;
    const ready = st.call !== null && st.confidence !== null;
    submitBtn.disabled = st.busy || !ready;
    for (const b of [...Object.values(callBtns), ...Object.values(confBtns)]) b.disabled = st.busy;
    root.dataset.call = st.call || "";
    root.dataset.confidence = st.confidence === null ? "" : String(st.confidence);
    root.dataset.marks = String(st.marks.length);
    root.dataset.window = String(st.win);
    root.dataset.level = String(st.lev);
    root.dataset.zoom = String(st.zoom);
    root.dataset.reviewing = model.reviewing ? "1" : "";
    changeRow.style.display = model.can_change ? "flex" : "none";
    resumeBtn.style.display = model.reviewing ? "" : "none";
    backBtn.disabled = st.busy;
  }

  function say(text) { notice.textContent = text || ""; }

  function setCall(call) { if (st.busy) return; st.call = call; say(""); refreshControls(); }
  function setConfidence(c) { if (st.busy) return; st.confidence = c; say(""); refreshControls(); }

  function noteTooLong() { return note.value.length > model.max_note; }

  function showNoteCount() {
    const n = note.value.length;
    noteCount.textContent = n > model.max_note * 0.8 ? `${n} of at most ${model.max_note} characters` : "";
    noteCount.classList.toggle("ga-over", noteTooLong());
  }

  function submit() {
    if (st.busy || st.shownCase === null) return;
    if (st.call === null || st.confidence === null) {
      if (performance.now() - st.shownAt < BOUNCE_MS) return;
      say("Choose real or fake (R/F) and a confidence (1/2/3) first.");
      return;
    }
    if (noteTooLong()) {
      say(`The note is ${note.value.length} characters long, over the limit of ${model.max_note}; ` +
          "shorten it, then press Next.");
      return;
    }
    st.busy = true;
    root.dataset.state = "busy";
    refreshControls();
    st.sentAt = performance.now();
    model.send_msg({
      type: "submit", case: st.shownCase, call: st.call, confidence: st.confidence,
      marks: st.marks.map((m) => ({ x: m.x, y: m.y, kind: m.kind })), note: note.value,
    });
    clearTimeout(st.submitTimer);
    st.submitTimer = setTimeout(() => {
      if (st.busy) connectionLost("The server did not answer.");
    }, SUBMIT_TIMEOUT_MS);
  }

  // ---- server pushes -------------------------------------------------------------------
  function sync() {
    progress.textContent = model.progress;
    practice.style.display = model.practice && !model.finished ? "" : "none";
    feedback.textContent = model.feedback;
    say(model.notice);
    if (model.finished) {
      clearTimeout(st.submitTimer);
      if (st.sentAt !== null) {
        window.__gaTimings.push(performance.now() - st.sentAt);
        st.sentAt = null;
      }
      st.busy = false;
      st.shownCase = null;
      body.style.display = "none";
      done.style.display = "block";
      root.dataset.case = "";
      root.dataset.state = "finished";
      return;
    }
    body.style.display = "flex";
    done.style.display = "none";
    if (model.case && model.case !== st.shownCase) {
      const caseId = model.case;
      root.dataset.state = "loading";
      loadImage(model.image, () => {
        if (model.case !== caseId) return;
        clearTimeout(st.submitTimer);
        st.shownCase = caseId;
        st.shownAt = performance.now();
        // Under review the stored answer is preselected; otherwise start blank.
        st.call = model.reviewing && model.prev_call ? model.prev_call : null;
        st.confidence = model.reviewing && model.prev_confidence ? model.prev_confidence : null;
        st.marks = []; st.busy = false;
        note.value = "";
        showNoteCount();
        refreshControls();
        root.dataset.case = caseId;
        root.dataset.state = "ready";
        if (st.sentAt !== null) {
          window.__gaTimings.push(performance.now() - st.sentAt);
          st.sentAt = null;
        }
      });
    } else {
      // Same case again: the answer was refused (see the notice) or a retry was ignored.
      clearTimeout(st.submitTimer);
      st.busy = false;
      st.sentAt = null;
      refreshControls();
      root.dataset.state = "ready";
    }
  }

  function navigate(type) {
    if (st.busy || !model.can_change) return;
    if (type === "resume" && !model.reviewing) return;
    st.busy = true;
    root.dataset.state = "busy";
    refreshControls();
    model.send_msg({ type });
  }

  function connectionLost(why) {
    if (st.reloading) return;
    st.reloading = true;
    root.dataset.state = "offline";
    say(`${why} Your saved answers are safe; this page reloads as soon as the server is back.`);
    const poll = () => {
      fetch("./health", { cache: "no-store" })
        .then((r) => { if (r.ok) window.location.reload(); else setTimeout(poll, 1000); })
        .catch(() => setTimeout(poll, 1000));
    };
    setTimeout(poll, 500);
  }

  // ---- events --------------------------------------------------------------------------
  function onButton(btn, fn) {
    btn.addEventListener("click", (e) => { e.preventDefault(); btn.blur(); fn(); });
  }
  for (const [k, b] of Object.entries(callBtns)) onButton(b, () => setCall(k));
  for (const [k, b] of Object.entries(confBtns)) onButton(b, () => setConfidence(Number(k)));
  for (const [k, b] of Object.entries(kindBtns)) onButton(b, () => { st.kind = k; refreshControls(); });
  onButton(clearMarks, () => { st.marks = []; draw(); refreshControls(); });
  onButton(submitBtn, submit);
  onButton(backBtn, () => navigate("back"));
  onButton(resumeBtn, () => navigate("resume"));
  onButton(zoomIn, () => setZoom(st.zoom * 1.5));
  onButton(zoomOut, () => setZoom(st.zoom / 1.5));
  onButton(resetBtn, resetView);
  note.addEventListener("input", showNoteCount);
  winIn.addEventListener("input", () => { st.win = Number(winIn.value); applyWindow(); draw(); refreshControls(); });
  levIn.addEventListener("input", () => { st.lev = Number(levIn.value); applyWindow(); draw(); refreshControls(); });

  let drag = null;
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 && e.button !== 2) return;  // left: mark / pan; right: window/level
    canvas.setPointerCapture(e.pointerId);
    const mode = e.button === 2 || e.shiftKey ? "wl" : "pan";
    drag = { mode, x: e.clientX, y: e.clientY, moved: false, win: st.win, lev: st.lev, cx: st.cx, cy: st.cy };
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag || !st.gray) return;
    const ddx = e.clientX - drag.x;
    const ddy = e.clientY - drag.y;
    if (Math.abs(ddx) + Math.abs(ddy) > 4) drag.moved = true;
    if (!drag.moved) return;
    if (drag.mode === "wl") {
      st.win = Math.min(510, Math.max(1, drag.win + ddx));
      st.lev = Math.min(255, Math.max(0, drag.lev - ddy / 2));
      applyWindow();
    } else if (st.zoom > 1) {
      const { s } = geometry();
      const r = canvas.getBoundingClientRect();
      const k = canvas.width / r.width;
      st.cx = drag.cx - (ddx * k) / (st.w * s);
      st.cy = drag.cy - (ddy * k) / (st.h * s);
    }
    draw();
    refreshControls();
  });
  canvas.addEventListener("pointerup", (e) => {
    const d = drag;
    drag = null;
    if (!d || d.moved || d.mode !== "pan" || !st.gray || st.busy) return;
    const p = toImage(e);
    if (p.x < 0 || p.x > 1 || p.y < 0 || p.y > 1) return;
    if (st.marks.length >= model.max_marks) { say(`At most ${model.max_marks} marks per case.`); return; }
    st.marks.push({ x: Math.round(p.x * 1e4) / 1e4, y: Math.round(p.y * 1e4) / 1e4, kind: st.kind });
    draw();
    refreshControls();
  });
  canvas.addEventListener("wheel", (e) => {
    if (!st.gray) return;
    e.preventDefault();
    const p = toImage(e);
    setZoom(st.zoom * (e.deltaY < 0 ? 1.25 : 0.8), p.x, p.y);
    refreshControls();
  }, { passive: false });

  // Listen on the document: keys pressed anywhere on the page count, but never while the
  // reader types in the note. Panel renders inside shadow roots, so event.target is the
  // shadow host; composedPath()[0] is the element that really has the focus.
  const onKey = (e) => {
    if (!root.isConnected || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.composedPath()[0];
    if (isTyping(target)) {
      if (e.key === "Escape") target.blur();
      return;
    }
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const actions = {
      r: () => setCall("real"), f: () => setCall("fake"),
      1: () => setConfidence(1), 2: () => setConfidence(2), 3: () => setConfidence(3),
      Enter: submit, n: submit,
      "+": () => setZoom(st.zoom * 1.5), "=": () => setZoom(st.zoom * 1.5),
      "-": () => setZoom(st.zoom / 1.5), 0: resetView,
      b: () => navigate("back"), Escape: () => navigate("resume"),
    };
    const action = actions[key];
    if (!action || model.finished) return;
    e.preventDefault();
    action();
    refreshControls();
  };
  document.addEventListener("keydown", onKey);
  model.on("remove", () => { document.removeEventListener("keydown", onKey); clearTimeout(st.submitTimer); });

  model.on("revision", () => setTimeout(sync, 0));
  const doc = view && view.model ? view.model.document : null;
  if (doc && doc.on_event) {
    doc.on_event("connection_lost", () => connectionLost("The connection to the server was lost."));
  }

  refreshControls();
  draw();
  setTimeout(sync, 0);
  return root;
}

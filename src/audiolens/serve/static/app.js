// audiolens gate page: record or pick a file, stream progress from POST /api/predict?progress=1,
// show the verdict, per-segment probabilities, the Grad-CAM overlay and the players.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { config: null, card: null, token: sessionStorage.getItem("audiolens-token") };
const STEP_WORDS = { record: "record", received: "upload", read: "read", clean: "clean",
  segment: "segment", score: "score", explain: "explain", done: "verdict" };
const REASONS = { uncertain: "the model is not sure enough", ood: "the input does not look like the training data",
  out_of_distribution: "the input does not look like the training data", no_speech: "no speech found",
  "out of distribution": "the input does not look like the training data", "no speech": "no speech found",
  too_short: "too little sound after cleaning", silence: "silence or only background noise" };

function headers() { return state.token ? { Authorization: "Bearer " + state.token } : {}; }

async function api(path, init = {}) {
  let res = await fetch(path, { ...init, headers: { ...headers(), ...(init.headers || {}) } });
  if (res.status === 401) {
    state.token = window.prompt("This gate needs its access token:") || "";
    sessionStorage.setItem("audiolens-token", state.token);
    res = await fetch(path, { ...init, headers: { ...headers(), ...(init.headers || {}) } });
  }
  return res;
}

function setState(s) { document.body.dataset.state = s; }

function showError(msg) {
  $("error").textContent = msg; $("error").hidden = false; setState("error");
  $("record").disabled = false; $("send").disabled = false;
}

function drawSteps(active, done) {
  const steps = ["record", "received", "clean", "segment", "score"].concat(
    state.config && state.config.explain ? ["explain"] : [], ["done"]);
  $("steps").innerHTML = "";
  for (const s of steps) {
    const li = document.createElement("li");
    li.textContent = STEP_WORDS[s] || s;
    li.dataset.step = s;
    if (done.has(s)) li.className = "done"; else if (s === active) li.className = "active";
    $("steps").appendChild(li);
  }
}

async function init() {
  const res = await api("/api/config");
  state.config = await res.json();
  $("seconds").value = state.config.record_seconds;
  $("seconds").max = state.config.max_duration_s;
  drawSteps(null, new Set());
  const card = await api("/api/model");
  if (card.ok) {
    state.card = await card.json();
    const c = state.card;
    $("model-line").textContent = `${c.task}: classes ${c.class_names.join(" / ")}` +
      (c.accept && c.accept.threshold != null ? ` · accept when P(${c.positive}) ≥ ${c.accept.threshold.toFixed(3)}` : "") +
      (c.test && c.test.accuracy != null ? ` · test accuracy ${c.test.accuracy.toFixed(3)} (n = ${c.test.n})` : "");
  } else {
    $("model-line").textContent = "model card unavailable (" + card.status + ")";
  }
  for (const r of document.querySelectorAll("input[name=source]")) {
    r.addEventListener("change", () => {
      const mic = document.querySelector("input[name=source]:checked").value === "mic";
      $("mic-controls").hidden = !mic; $("file-controls").hidden = mic;
    });
  }
  $("record").addEventListener("click", record);
  $("send").addEventListener("click", () => {
    const f = $("file").files[0];
    if (!f) return showError("choose a file first");
    submit(f, f.name);
  });
  setState("ready");
}

async function record() {
  $("error").hidden = true; $("result").hidden = true;
  const seconds = Math.min(parseFloat($("seconds").value) || state.config.record_seconds, state.config.max_duration_s);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (e) { return showError("no microphone: " + e.message); }
  $("record").disabled = true; setState("recording"); drawSteps("record", new Set());
  const ctx = new AudioContext();
  await ctx.resume();
  const source = ctx.createMediaStreamSource(stream);
  const proc = ctx.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  const need = Math.round(seconds * ctx.sampleRate);
  let got = 0;
  const finished = new Promise((resolve) => {
    proc.onaudioprocess = (ev) => {
      if (got >= need) return;
      const data = new Float32Array(ev.inputBuffer.getChannelData(0));
      const take = data.subarray(0, Math.min(data.length, need - got));
      chunks.push(take); got += take.length;
      const db = window.audiolensWav.levelDb(take);
      $("level").style.width = Math.max(0, Math.min(100, (db + 60) / 60 * 100)) + "%";
      $("level-db").textContent = db.toFixed(0) + " dBFS";
      $("countdown").textContent = ((need - got) / ctx.sampleRate).toFixed(1) + " s left";
      if (got >= need) resolve();
    };
  });
  source.connect(proc); proc.connect(ctx.destination);
  await finished;
  source.disconnect(); proc.disconnect(); stream.getTracks().forEach((t) => t.stop());
  const rate = ctx.sampleRate; await ctx.close();
  $("countdown").textContent = ""; $("level").style.width = "0";
  const wav = window.audiolensWav.encode(chunks, rate);
  await submit(wav, "microphone.wav");
}

async function submit(blob, name) {
  $("error").hidden = true; $("result").hidden = true; $("record").disabled = true; $("send").disabled = true;
  setState("scoring");
  $("play-original").src = URL.createObjectURL(blob);
  const done = new Set(["record"]);
  drawSteps("received", done);
  const form = new FormData(); form.append("file", blob, name);
  const explain = state.config.explain ? "&explain=1" : "";
  const res = await api("/api/predict?progress=1" + explain, { method: "POST", body: form });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail; } catch (e) { /* not JSON */ }
    return showError(`refused (${res.status}): ${detail}`);
  }
  const reader = res.body.getReader(); const dec = new TextDecoder();
  let buf = "", last = null, prev = "record";
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const msg = JSON.parse(buf.slice(0, nl)); buf = buf.slice(nl + 1);
      if (msg.step) { done.add(prev); prev = msg.step; drawSteps(msg.step, done); }
      else last = msg;
    }
  }
  if (!last) return showError("the server closed the connection without an answer");
  if (last.status !== 200) return showError(`refused (${last.status}): ${last.detail}`);
  ["received", "clean", "segment", "score", "explain", "done"].forEach((s) => done.add(s));
  drawSteps(null, done);
  show(last.document);
}

function reasonOf(r) {
  if (r.error) return r.error.code === 4 ? "silence" : r.error.code === 5 ? "too_short" : "unreadable";
  return r.reason || (r.decision === "abstain" ? "uncertain" : null);
}

function show(doc) {
  window.__lastDocument = doc;  // for tests and the console
  const r = doc.results[0];
  const decision = r.error ? "abstain" : r.decision;
  $("verdict").dataset.decision = decision;
  $("decision").textContent = decision.toUpperCase() + (r.error ? "" : (doc.class_names.length > 2 || decision === "abstain" ? "" : " · " + r.label));
  $("confidence").textContent = r.error ? "" : `confidence ${r.confidence.toFixed(3)} (${r.method}, ${r.n_segments} segment(s), ${r.sound_s.toFixed(2)} s of sound)`;
  const reason = reasonOf(r);
  const detail = r.ood && r.reason === "out of distribution" && r.ood.score != null
    ? ` (out-of-distribution score ${r.ood.score.toFixed(1)} > threshold ${r.ood.threshold.toFixed(1)}, ${r.ood.method})`
    : r.uncertainty ? ` (${r.uncertainty.score} vs threshold ${r.uncertainty.threshold})` : "";
  $("reason").textContent = r.error ? r.error.message : reason ? "Why abstain: " + (REASONS[reason] || reason) + detail : "";
  drawChart(r, doc);
  if (r.explain) {
    $("gradcam").src = r.explain.gradcam_png; $("explain-figure").hidden = false;
    $("play-masked").src = r.explain.masked_in_wav; $("masked-label").hidden = false;
  } else { $("explain-figure").hidden = true; $("masked-label").hidden = true; }
  $("raw").textContent = JSON.stringify(doc, (k, v) => (typeof v === "string" && v.startsWith("data:") ? v.slice(0, 40) + "…" : v), 2);
  $("result").hidden = false; $("record").disabled = false; $("send").disabled = false;
  setState("done");
}

function drawChart(r, doc) {
  const svg = $("chart"); svg.innerHTML = "";
  const segs = r.segments || [];
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => { const e = document.createElementNS(ns, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); if (text) e.textContent = text; svg.appendChild(e); return e; };
  const W = 320, H = 140, L = 30, B = 20, T = 8;
  const pos = doc.accept && doc.accept.positive ? doc.accept.positive : null;
  el("line", { x1: L, y1: H - B, x2: W - 4, y2: H - B, stroke: "#999" });
  el("text", { x: 2, y: T + 8, "font-size": 9 }, "1.0"); el("text", { x: 2, y: H - B, "font-size": 9 }, "0.0");
  const label = pos ? `P(${pos})` : "P(predicted)";
  el("text", { x: L, y: H - 4, "font-size": 9 }, label + " per segment, by start time (s)");
  const bw = Math.min(40, Math.max(4, (W - L - 8) / Math.max(1, segs.length) - 4));
  segs.forEach((s, i) => {
    const p = pos && s.probabilities ? s.probabilities[pos] : s.confidence;
    const h = (H - B - T) * p;
    el("rect", { x: L + 4 + i * (bw + 4), y: H - B - h, width: bw, height: h, fill: "#4a78c2" }).appendChild(
      document.createElementNS(ns, "title")).textContent = `${s.start_s.toFixed(2)} s: ${p.toFixed(3)}`;
  });
  const t = doc.accept && doc.accept.threshold;
  if (pos && t != null) {
    const y = H - B - (H - B - T) * t;
    el("line", { x1: L, y1: y, x2: W - 4, y2: y, stroke: "#c33", "stroke-dasharray": "4 3" });
    el("text", { x: W - 80, y: y - 3, "font-size": 9, fill: "#c33" }, "threshold " + t.toFixed(2));
  }
}

init().catch((e) => showError("cannot reach the gate: " + e.message));

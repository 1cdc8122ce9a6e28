// deepdive playground: draws the frames the server pushes (server-sent events) on plain canvases.
// No libraries, no CDN: the page works offline. The server owns all the state; this file only draws and asks.
"use strict";

const CLASS_COLORS = [[245, 147, 34], [8, 119, 189], [44, 160, 44]];    // orange, blue, green (TF Playground's)
const $ = (id) => document.getElementById(id);
const state = { frame: null, points: {}, selected: { layer: 1, unit: 0 }, lastPoint: null, walk: null };

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.className = text ? "shown" : "";
}

async function api(path, body) {
  const options = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" },
                                              body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) { showMessage(data.error || response.statusText); throw new Error(data.error); }
  // Only the learner's own actions clear a message: the requests each frame makes (the neuron panel) must
  // not wipe a refusal the learner has not read yet.
  if (path === "/api/settings" || path === "/api/control") showMessage("");
  return data;
}

function decode(b64) {             // base64 of uint8 -> Uint8Array (values 0..255 stand for 0..1)
  const raw = atob(b64), out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// ------------------------------------------------------------------ controls
const FIELDS = ["dataset", "noise", "n_samples", "val_fraction", "hidden", "activation", "norm", "dropout",
                "optimizer", "lr", "batch_size", "l1", "l2", "seed"];

function fillControls(settings) {
  for (const name of FIELDS) {
    const el = $(name);
    if (document.activeElement === el) continue;
    el.value = name === "hidden" ? settings.hidden.join(", ") : settings[name];
  }
}

function readControl(name) {
  const el = $(name);
  if (name === "hidden") {
    const text = el.value.trim();
    return text === "" ? [] : text.split(/[\s,]+/).map(Number);
  }
  return el.tagName === "SELECT" ? el.value : Number(el.value);
}

function wireControls() {
  for (const name of FIELDS) {
    $(name).addEventListener("change", () => {
      api("/api/settings", { [name]: readControl(name) }).then((r) => fillControls(r.settings)).catch(() => {});
    });
  }
  for (const action of ["play", "pause", "step", "reset"]) {
    $(action).addEventListener("click", () => api("/api/control", { action }).catch(() => {}));
  }
  $("show-code").addEventListener("click", showCode);
  $("boundary").addEventListener("click", clickBoundary);
  $("network").addEventListener("click", clickNetwork);
}

async function showCode() {
  const response = await fetch("/api/code");
  $("code").textContent = await response.text();
}

// ------------------------------------------------------------------ boundary and points
function toCanvas(extent, canvas, x, y) {
  return [(x - extent[0]) / (extent[1] - extent[0]) * canvas.width,
          (extent[3] - y) / (extent[3] - extent[2]) * canvas.height];
}

function drawBoundary(frame) {
  const canvas = $("boundary"), ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const b = frame.boundary;
  if (!b) { ctx.fillStyle = "#64748b"; ctx.fillText("the input is not 2-D: no boundary to draw", 10, 20); return; }
  const probs = decode(b.probs), n = b.n, k = b.classes;
  const image = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    let r = 0, g = 0, bl = 0;
    for (let c = 0; c < k; c++) {
      const p = probs[i * k + c] / 255, color = CLASS_COLORS[c % CLASS_COLORS.length];
      r += p * color[0]; g += p * color[1]; bl += p * color[2];
    }
    // lighten towards white so the points stay visible; confident regions are the most saturated
    image.data.set([255 - 0.55 * (255 - r), 255 - 0.55 * (255 - g), 255 - 0.55 * (255 - bl), 255], i * 4);
  }
  const tmp = document.createElement("canvas");
  tmp.width = tmp.height = n;
  tmp.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
  for (const [split, filled] of [["train", true], ["val", false]]) {
    for (const [x, y, label] of state.points[split] || []) {
      const [px, py] = toCanvas(b.extent, canvas, x, y), color = CLASS_COLORS[label % CLASS_COLORS.length];
      ctx.beginPath();
      ctx.arc(px, py, 3, 0, 2 * Math.PI);
      ctx.strokeStyle = `rgb(${color})`;
      ctx.fillStyle = `rgb(${color})`;
      ctx.lineWidth = filled ? 1 : 1.6;
      if (filled) { ctx.fill(); ctx.strokeStyle = "#fff"; }
      ctx.stroke();
    }
  }
  if (state.lastPoint) {
    const [px, py] = toCanvas(b.extent, canvas, state.lastPoint[0], state.lastPoint[1]);
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 2;
    ctx.strokeRect(px - 6, py - 6, 12, 12);
  }
}

function clickBoundary(event) {
  const frame = state.frame;
  if (!frame || !frame.boundary) return;
  const canvas = $("boundary"), rect = canvas.getBoundingClientRect(), e = frame.boundary.extent;
  const x = e[0] + (event.clientX - rect.left) / rect.width * (e[1] - e[0]);
  const y = e[3] - (event.clientY - rect.top) / rect.height * (e[3] - e[2]);
  api("/api/explain", { x, y }).then((r) => {
    state.lastPoint = r.point;
    walkBackprop(r);
    if (frame.mode === "playground" && frame.neuron_maps.length) explainNeuron();   // no hidden layer: no neuron
    drawBoundary(state.frame);
  }).catch(() => {});
}

// The backward pass as numbered steps, revealed one after another: the chain rule walking back from the loss.
function walkBackprop(result) {
  const box = $("backprop");
  clearInterval(state.walk);
  box.innerHTML = "";
  const head = document.createElement("p");
  head.textContent = `Point (${result.point.map((v) => v.toFixed(3)).join(", ")}), class ${result.label}, ` +
                     `${result.split} set: loss ${result.loss.toFixed(4)}`;
  box.appendChild(head);
  const lines = result.backward.split("\n"), blocks = [];
  let current = [];
  for (const line of lines) {
    if (/^ {2}\d+\. /.test(line) || line.startsWith("Accumulated")) { if (current.length) blocks.push(current); current = []; }
    current.push(line);
  }
  if (current.length) blocks.push(current);
  let shown = 0;
  const reveal = () => {
    if (shown >= blocks.length) { clearInterval(state.walk); return; }
    for (const el of box.querySelectorAll(".bp-step.current")) el.classList.remove("current");
    const div = document.createElement("div");
    div.className = "bp-step current";
    div.textContent = blocks[shown].join("\n");
    box.appendChild(div);
    shown += 1;
  };
  reveal();
  state.walk = setInterval(reveal, 250);
}

// ------------------------------------------------------------------ network view
function networkLayout(frame) {
  const canvas = $("network"), layers = frame.layers, columns = layers.length + 1;
  const widths = [layers[0].weight[0].length, ...layers.map((l) => l.weight.length)];
  const maxUnits = Math.max(...widths);
  const size = Math.max(8, Math.min(40, Math.floor((canvas.height - 10) / maxUnits) - 4));
  const positions = widths.map((units, c) => {
    const x = 10 + c * (canvas.width - 20 - size) / (columns - 1);
    const top = (canvas.height - units * (size + 4)) / 2;
    return Array.from({ length: units }, (_, u) => [x, top + u * (size + 4)]);
  });
  return { positions, size };
}

function drawNetwork(frame) {
  const canvas = $("network"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!frame.layers) return;
  const { positions, size } = networkLayout(frame), n = frame.neuron_grid;
  frame.layers.forEach((layer, l) => {                 // edges: weight sign as colour, magnitude as width
    const scale = Math.max(1e-6, ...layer.weight.flat().map(Math.abs));
    layer.weight.forEach((row, out) => row.forEach((w, inp) => {
      const [x0, y0] = positions[l][inp], [x1, y1] = positions[l + 1][out];
      ctx.strokeStyle = w >= 0 ? "rgba(8,119,189,0.7)" : "rgba(245,147,34,0.7)";
      ctx.lineWidth = 0.3 + 3 * Math.abs(w) / scale;
      ctx.beginPath();
      ctx.moveTo(x0 + size, y0 + size / 2);
      ctx.lineTo(x1, y1 + size / 2);
      ctx.stroke();
    }));
  });
  const tmp = document.createElement("canvas");
  tmp.width = tmp.height = n;
  const tctx = tmp.getContext("2d");
  positions.forEach((column, c) => column.forEach(([x, y], u) => {
    const image = tctx.createImageData(n, n);
    if (c === 0) {                                      // inputs: x1 and x2 themselves, as gradients
      for (let i = 0; i < n * n; i++) {
        const v = u === 0 ? (i % n) / (n - 1) : 1 - Math.floor(i / n) / (n - 1);
        image.data.set(heat(v), i * 4);
      }
    } else if (c - 1 < frame.neuron_maps.length) {      // hidden units: their output over the plane
      const map = decode(frame.neuron_maps[c - 1]);
      for (let i = 0; i < n * n; i++) image.data.set(heat(map[u * n * n + i] / 255), i * 4);
    } else {
      for (let i = 0; i < n * n; i++) image.data.set([226, 232, 240, 255], i * 4);
    }
    tctx.putImageData(image, 0, 0);
    ctx.drawImage(tmp, x, y, size, size);
    const selected = c === state.selected.layer && u === state.selected.unit && c <= frame.neuron_maps.length;
    ctx.strokeStyle = selected ? "#111" : "#94a3b8";
    ctx.lineWidth = selected ? 2.5 : 1;
    ctx.strokeRect(x, y, size, size);
  }));
}

function heat(v) {                 // 0 -> orange (negative), 0.5 -> white, 1 -> blue (positive)
  const t = Math.abs(v - 0.5) * 2, c = v >= 0.5 ? CLASS_COLORS[1] : CLASS_COLORS[0];
  return [255 - t * (255 - c[0]), 255 - t * (255 - c[1]), 255 - t * (255 - c[2]), 255];
}

function clickNetwork(event) {
  const frame = state.frame;
  if (!frame || !frame.layers) return;
  const canvas = $("network"), rect = canvas.getBoundingClientRect();
  const px = (event.clientX - rect.left) * canvas.width / rect.width, py = (event.clientY - rect.top) * canvas.height / rect.height;
  const { positions, size } = networkLayout(frame);
  for (let c = 1; c <= frame.neuron_maps.length; c++) {
    positions[c].forEach(([x, y], u) => {
      if (px >= x && px <= x + size && py >= y && py <= y + size) state.selected = { layer: c, unit: u };
    });
  }
  drawNetwork(frame);
  explainNeuron();
}

function explainNeuron() {
  const p = state.lastPoint || (state.points.val && state.points.val[0]) || [0, 0];
  api("/api/neuron", { layer: state.selected.layer, unit: state.selected.unit, x: p[0], y: p[1] })
    .then((r) => { $("neuron").textContent = r.text; }).catch(() => {});
}

// ------------------------------------------------------------------ curves, gradient flow, activations
function drawCurves(canvasId, history, keys, fixedRange) {
  const canvas = $(canvasId), ctx = canvas.getContext("2d"), steps = history.step;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const values = keys.flatMap((k) => history[k].filter((v) => v !== null && isFinite(v)));
  if (steps.length < 1 || values.length === 0) return;
  const lo = fixedRange ? fixedRange[0] : 0, hi = fixedRange ? fixedRange[1] : Math.max(...values) * 1.05 || 1;
  const maxStep = Math.max(1, steps[steps.length - 1]), pad = 28;
  const X = (s) => pad + s / maxStep * (canvas.width - pad - 6), Y = (v) => canvas.height - 14 - (v - lo) / (hi - lo) * (canvas.height - 22);
  ctx.fillStyle = "#64748b";
  ctx.font = "10px sans-serif";
  ctx.fillText(hi.toFixed(2), 2, 12);
  ctx.fillText(lo.toFixed(2), 2, canvas.height - 14);
  ctx.fillText(`step ${maxStep}`, canvas.width - 60, canvas.height - 2);
  keys.forEach((k, i) => {
    ctx.strokeStyle = i === 0 ? "#1e293b" : "#dc2626";
    ctx.setLineDash(i === 0 ? [] : [5, 3]);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    history[k].forEach((v, j) => { if (v !== null) (j === 0 ? ctx.moveTo : ctx.lineTo).call(ctx, X(steps[j]), Y(v)); });
    ctx.stroke();
  });
  ctx.setLineDash([]);
}

function drawGradFlow(flow) {
  const canvas = $("grad-flow"), ctx = canvas.getContext("2d"), names = Object.keys(flow);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!names.length) { ctx.fillStyle = "#64748b"; ctx.fillText("press play or step", 10, 20); return; }
  const logs = names.map((n) => Math.log10(flow[n] + 1e-12)), lo = Math.min(...logs) - 1, hi = Math.max(...logs);
  const barH = Math.min(18, (canvas.height - 4) / names.length - 2);
  ctx.font = "10px monospace";
  names.forEach((name, i) => {
    const y = 2 + i * (barH + 2), w = (logs[i] - lo) / Math.max(1e-6, hi - lo) * (canvas.width - 170);
    ctx.fillStyle = "#0877bd";
    ctx.fillRect(100, y, Math.max(1, w), barH);
    ctx.fillStyle = "#1f2937";
    ctx.fillText(name, 2, y + barH - 4);
    ctx.fillText(flow[name].toExponential(1), 104 + w, y + barH - 4);
  });
}

function drawActivations(stats) {
  const rows = stats.filter((s) => !/Linear|Dropout/.test(s.type)).map((s) =>
    `<tr><td>${s.name}</td><td>${s.type}</td><td>${s.mean.toFixed(3)}</td><td>${s.std.toFixed(3)}</td>` +
    `<td>${(100 * s.zeros).toFixed(0)}%</td></tr>`);
  $("activations").innerHTML = "<tr><th>module</th><th>type</th><th>mean</th><th>std</th><th>zeros</th></tr>" + rows.join("");
}

const fmt = (v, digits) => (v === null || v === undefined ? "–" : v.toFixed(digits));

function render(frame) {
  state.frame = frame;
  $("steps").textContent = frame.steps;
  $("epoch").textContent = frame.epoch;
  $("loss").textContent = fmt(frame.loss, 6);
  $("val-loss").textContent = fmt(frame.val_loss, 6);
  $("val-acc").textContent = fmt(frame.val_accuracy, 4);
  $("architecture").textContent = frame.architecture || "";
  if (frame.error) showMessage(frame.error);
  const verdict = $("verdict");
  verdict.textContent = frame.verdict || "";
  verdict.className = frame.verdict ? "fired" : "";
  drawBoundary(frame);
  drawNetwork(frame);
  drawCurves("loss-curve", frame.history, ["loss", "val_loss"]);
  drawCurves("acc-curve", frame.history, ["accuracy", "val_accuracy"], [0, 1]);
  drawGradFlow(frame.grad_flow);
  drawActivations(frame.activations);
}

function connect() {
  const events = new EventSource("/events");
  events.addEventListener("points", (e) => {         // a rebuilt model: the old neuron may no longer exist
    state.points = JSON.parse(e.data);
    state.lastPoint = null;
    state.selected = { layer: 1, unit: 0 };
  });
  events.addEventListener("frame", (e) => render(JSON.parse(e.data)));
  // EventSource reconnects by itself when the server is back; say so meanwhile
  events.onerror = () => showMessage("connection to the playground server lost; retrying…");
  events.onopen = () => showMessage("");
}

async function start() {
  wireControls();
  const info = await api("/api/settings");
  if (info.settings) fillControls(info.settings);
  else {                                   // watch(): the user's own model, nothing to configure
    for (const id of ["controls", "show-code", "download", "code", "reset"]) $(id).style.display = "none";
    for (const id of ["network", "neuron", "show-code"]) {     // and their headings: views of SimpleNN only
      $(id).style.display = "none";
      $(id).previousElementSibling.style.display = "none";
    }
  }
  connect();
}

start();

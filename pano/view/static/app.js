// pano-pan view: plays the 360° video through the camera path in WebGL and edits the path with keyframes.
// Conventions as pano/render.py: yaw 0 = frame centre, positive right; pitch positive up; the view at
// frame i uses sample i (samples are matched to frames by their presentation time t).
"use strict";

const $ = (id) => document.getElementById(id);
const S = {
  job: null, auto: null, path: null, keys: [], sel: -1, frame: 0, drag: null, dirty: true,
  strip: null, saved: null, audioTimer: 0, planSeq: 0, audioUrl: null, render: null,
};

// ---------------------------------------------------------------- helpers
const clamp = (v, a, b) => Math.min(b, Math.max(a, v));
const wrap = (y) => ((y + 180) % 360 + 360) % 360 - 180;
const fmt = (s) => { s = Math.max(0, s); const m = Math.floor(s / 60); return `${m}:${(s - 60 * m).toFixed(2).padStart(5, "0")}`; };
async function api(url, body) {
  const opt = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(url, opt);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || `${url}: HTTP ${r.status}`);
  return data;
}
function frameAt(t) {  // the last sample whose presentation time is ≤ t
  const ts = S.auto.t; let lo = 0, hi = ts.length - 1;
  if (t < ts[0]) return 0;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ts[mid] <= t + 1e-4) lo = mid; else hi = mid - 1; }
  return lo;
}
const fps = () => S.job.source.fps || 30;
const frameTime = (i) => S.auto.t[clamp(i, 0, S.auto.t.length - 1)];

// ---------------------------------------------------------------- WebGL view
const VS = `#version 300 es
in vec2 p; void main() { gl_Position = vec4(p, 0.0, 1.0); }`;
const FS = `#version 300 es
precision highp float;
uniform sampler2D tex; uniform mat3 rot; uniform vec2 tanHalf; uniform vec2 size;
out vec4 color;
void main() {
  // The output pixel's ray in camera axes (x forward, y left, z up), as NFOVRenderer._rays.
  float right = (gl_FragCoord.x / size.x * 2.0 - 1.0) * tanHalf.x;
  float up = (gl_FragCoord.y / size.y * 2.0 - 1.0) * tanHalf.y;
  vec3 w = rot * normalize(vec3(1.0, -right, up));
  float lon = atan(-w.y, w.x);
  float lat = asin(clamp(w.z, -1.0, 1.0));
  color = vec4(texture(tex, vec2(lon / 6.283185307179586 + 0.5, 0.5 - lat / 3.141592653589793)).rgb, 1.0);
}`;
let gl, prog, texture, uni = {};
function initGL() {
  const c = $("view");
  c.width = S.job.output.width; c.height = S.job.output.height;
  gl = c.getContext("webgl2", { preserveDrawingBuffer: true, antialias: false, alpha: false });
  if (!gl) { $("hud").textContent = "WebGL2 is not available in this browser"; return false; }
  const sh = (type, src) => { const s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s)); return s; };
  prog = gl.createProgram();
  gl.attachShader(prog, sh(gl.VERTEX_SHADER, VS)); gl.attachShader(prog, sh(gl.FRAGMENT_SHADER, FS));
  gl.linkProgram(prog); gl.useProgram(prog);
  const buf = gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER, buf);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  const loc = gl.getAttribLocation(prog, "p"); gl.enableVertexAttribArray(loc);
  gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
  for (const n of ["tex", "rot", "tanHalf", "size"]) uni[n] = gl.getUniformLocation(prog, n);
  texture = gl.createTexture(); gl.bindTexture(gl.TEXTURE_2D, texture);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.REPEAT);  // the ±180° seam wraps
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);  // the poles clamp
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
  gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
  return true;
}
function rotation(yaw, pitch, roll) {  // pano.sphere.geometry.camera_rotation, returned column-major for GLSL
  const r = Math.PI / 180, cy = Math.cos(yaw * r), sy = Math.sin(yaw * r), cp = Math.cos(pitch * r),
    sp = Math.sin(pitch * r), cr = Math.cos(roll * r), sr = Math.sin(roll * r);
  const Y = [[cy, sy, 0], [-sy, cy, 0], [0, 0, 1]], P = [[cp, 0, -sp], [0, 1, 0], [sp, 0, cp]], R = [[1, 0, 0], [0, cr, sr], [0, -sr, cr]];
  const mul = (A, B) => A.map((row) => [0, 1, 2].map((j) => row[0] * B[0][j] + row[1] * B[1][j] + row[2] * B[2][j]));
  const M = mul(mul(Y, P), R);
  return new Float32Array([M[0][0], M[1][0], M[2][0], M[0][1], M[1][1], M[2][1], M[0][2], M[1][2], M[2][2]]);
}
function currentView() {
  const i = S.frame, p = S.path;
  if (S.drag && S.drag.kind === "view") return { yaw: S.drag.yaw, pitch: S.drag.pitch, hfov: S.drag.hfov, vfov: vfovFor(S.drag.hfov, i), roll: S.auto.roll[i] };
  return { yaw: p.yaw[i], pitch: p.pitch[i], hfov: p.hfov[i], vfov: p.vfov[i], roll: S.auto.roll[i] };
}
function vfovFor(hfov, i) {  // the frame's aspect kept, as pano.view.edit does
  const r = Math.tan(S.auto.vfov[i] * Math.PI / 360) / Math.tan(S.auto.hfov[i] * Math.PI / 360);
  return 360 / Math.PI * Math.atan(Math.tan(hfov * Math.PI / 360) * r);
}
function draw(mediaTime) {
  const v = $("video");
  if (!gl || v.readyState < 2) return;
  S.frame = frameAt(mediaTime === undefined ? v.currentTime : mediaTime);
  const view = currentView();
  gl.bindTexture(gl.TEXTURE_2D, texture);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGB, gl.RGB, gl.UNSIGNED_BYTE, v);
  gl.viewport(0, 0, gl.canvas.width, gl.canvas.height);
  gl.uniform1i(uni.tex, 0);
  gl.uniformMatrix3fv(uni.rot, false, rotation(view.yaw, view.pitch, view.roll));
  gl.uniform2f(uni.tanHalf, Math.tan(view.hfov * Math.PI / 360), Math.tan(view.vfov * Math.PI / 360));
  gl.uniform2f(uni.size, gl.canvas.width, gl.canvas.height);
  gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  S.drawn = { frame: S.frame, time: v.currentTime, yaw: view.yaw, pitch: view.pitch, hfov: view.hfov };
  S.dirty = false;
  hud(view);
}
function hud(view) {
  const v = $("video"), i = S.frame;
  $("hud").textContent = `frame ${i}  yaw ${view.yaw.toFixed(1)}°  pitch ${view.pitch.toFixed(1)}°  fov ${view.hfov.toFixed(1)}°`;
  $("clock").textContent = `${fmt(v.currentTime)} / ${fmt(S.job.source.duration)} · frame ${i}`;
  $("badge").hidden = !S.keys.some((k) => i >= frameAt(k.t) && S.auto.t[i] <= k.t + k.hold + 1e-6);
  drawTimeline(); drawFootprint(view);
}

// ---------------------------------------------------------------- playback
function onVideoFrame(_now, meta) { draw(meta.mediaTime); $("video").requestVideoFrameCallback(onVideoFrame); }
function tick() {
  const v = $("video");
  if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype) && !v.paused) draw();
  else if (S.dirty) draw();
  requestAnimationFrame(tick);
}
function seekFrame(i) {
  i = clamp(i, 0, S.auto.t.length - 1);
  const v = $("video");
  v.currentTime = frameTime(i) + 0.5 / fps();  // the middle of the frame's display interval
}
function seekTime(t) { seekFrame(frameAt(t)); }
function togglePlay() { const v = $("video"); if (v.paused) v.play(); else v.pause(); }
function syncSound(force) {
  const v = $("video"), a = $("sound");
  if (!S.job.source.foa || !a.src) return;
  if (force || Math.abs(a.currentTime - v.currentTime) > 0.08) a.currentTime = v.currentTime;
  if (v.paused && !a.paused) a.pause();
  if (!v.paused && a.paused) a.play().catch(() => {});
}

// ---------------------------------------------------------------- keyframes and the path
function keyHold() { return clamp(parseFloat($("hold").value) || 0, 0, 600); }
function setKey(k) {
  const i = frameAt(k.t);
  S.keys = S.keys.filter((o) => frameAt(o.t) !== i);
  S.keys.push(k); S.keys.sort((a, b) => a.t - b.t);
  S.sel = S.keys.indexOf(k);
  replan();
}
async function replan() {
  const seq = ++S.planSeq;
  renderKeys();
  const path = await api("/api/plan", { keyframes: S.keys });
  if (seq !== S.planSeq) return;
  S.path = path; S.pathVer = (S.pathVer || 0) + 1; S.dirty = true;
  $("notes").innerHTML = "";
  for (const n of path.notes) { const li = document.createElement("li"); li.textContent = n; $("notes").appendChild(li); }
  clearTimeout(S.audioTimer); S.audioTimer = setTimeout(makeSound, 500);
}
async function makeSound() {
  if (!S.job.source.foa) return;
  const { url } = await api("/api/audio", { keyframes: S.keys });
  const a = $("sound");
  a.src = url;
  a.addEventListener("loadedmetadata", () => syncSound(true), { once: true });
}
function influencing(i) {  // keyframes whose hold covers frame i
  const t = S.auto.t[i];
  return S.keys.filter((k) => k.t - 0.5 / fps() <= t && t <= k.t + k.hold + 1e-6);
}
function resetHere() {
  const hits = influencing(S.frame);
  if (!hits.length) return;
  S.keys = S.keys.filter((k) => !hits.includes(k)); S.sel = -1; replan();
}
function renderKeys() {
  const tb = document.querySelector("#keys tbody"); tb.innerHTML = "";
  $("nokeys").hidden = S.keys.length > 0;
  S.keys.forEach((k, n) => {
    const tr = document.createElement("tr"); if (n === S.sel) tr.className = "sel";
    tr.innerHTML = `<td class="t" title="go to this keyframe">${fmt(k.t)}</td><td>${k.yaw.toFixed(1)}</td><td>${k.pitch.toFixed(1)}</td><td>${k.hfov.toFixed(1)}</td>` +
      `<td><input type="number" min="0" max="600" step="0.5" value="${k.hold}"></td><td><button class="small del" title="delete">✕</button></td>`;
    tr.querySelector(".t").onclick = () => { S.sel = n; $("video").pause(); seekTime(k.t); renderKeys(); };
    tr.querySelector("input").onchange = (e) => { k.hold = clamp(parseFloat(e.target.value) || 0, 0, 600); replan(); };
    tr.querySelector(".del").onclick = () => { S.keys.splice(n, 1); S.sel = -1; replan(); };
    tb.appendChild(tr);
  });
}

// ---------------------------------------------------------------- view dragging (sets a keyframe)
function viewPointer() {
  const c = $("view");
  c.addEventListener("pointerdown", (e) => {
    const view = currentView();
    S.drag = { kind: "view", x: e.clientX, y: e.clientY, yaw0: view.yaw, pitch0: view.pitch, yaw: view.yaw, pitch: view.pitch, hfov: view.hfov, moved: false };
    c.setPointerCapture(e.pointerId); c.classList.add("dragging"); c.focus();
  });
  c.addEventListener("pointermove", (e) => {
    if (!S.drag || S.drag.kind !== "view") return;
    const r = c.getBoundingClientRect(), d = S.drag, vf = vfovFor(d.hfov, S.frame);
    // Grab the world: dragging right brings what is on the left into view (yaw decreases).
    d.yaw = wrap(d.yaw0 - (e.clientX - d.x) / r.width * d.hfov);
    d.pitch = clamp(d.pitch0 + (e.clientY - d.y) / r.height * vf, -90, 90);
    d.moved = d.moved || Math.hypot(e.clientX - d.x, e.clientY - d.y) > 3;
    S.dirty = true;
  });
  const end = () => {
    if (!S.drag || S.drag.kind !== "view") return;
    const d = S.drag; S.drag = null; c.classList.remove("dragging");
    if (d.moved) setKey({ t: frameTime(S.frame), yaw: d.yaw, pitch: d.pitch, hfov: d.hfov, hold: keyHold() });
    S.dirty = true;
  };
  c.addEventListener("pointerup", end); c.addEventListener("pointercancel", end);
  c.addEventListener("wheel", (e) => {  // zoom: a keyframe with the new field of view
    e.preventDefault();
    const view = currentView(), hfov = clamp(view.hfov * Math.exp(e.deltaY * 0.001), 20, 120);
    clearTimeout(S.zoomTimer);
    S.drag = { kind: "view", yaw: view.yaw, pitch: view.pitch, hfov, zoom: true }; S.dirty = true;
    S.zoomTimer = setTimeout(() => { const d = S.drag; S.drag = null; if (d) setKey({ t: frameTime(S.frame), yaw: d.yaw, pitch: d.pitch, hfov: d.hfov, hold: keyHold() }); }, 350);
  }, { passive: false });
}

// ---------------------------------------------------------------- timeline
const TL = { top: 4, yawH: 128, keyY: 146, left: 34, right: 6 };
function tlX(t, w) { return TL.left + t / Math.max(S.job.source.duration, 1e-6) * (w - TL.left - TL.right); }
function tlT(x, w) { return clamp((x - TL.left) / (w - TL.left - TL.right), 0, 1) * S.job.source.duration; }
const tlY = (yaw) => TL.top + (180 - yaw) / 360 * TL.yawH;
// The timeline is two layers: everything but the playhead is drawn once per change of path, keyframes,
// strip or size into an offscreen canvas; each video frame only copies it and draws the playhead.
let tlCache = null, tlKey = "";
function drawTimeline() {
  const c = $("timeline"), dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth, h = c.clientHeight;
  if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
  const key = `${c.width}x${c.height}|${S.pathVer}|${!!S.strip}|${S.sel}|${JSON.stringify(S.keys)}`;
  if (key !== tlKey || !tlCache) {
    tlCache = tlCache || document.createElement("canvas");
    tlCache.width = c.width; tlCache.height = c.height;
    drawTimelineLayer(tlCache.getContext("2d"), w, h, dpr); tlKey = key;
  }
  const g = c.getContext("2d"); g.setTransform(1, 0, 0, 1, 0, 0); g.clearRect(0, 0, c.width, c.height);
  g.drawImage(tlCache, 0, 0); g.setTransform(dpr, 0, 0, dpr, 0, 0);
  const px = tlX($("video").currentTime, w);
  g.strokeStyle = "#fff"; g.lineWidth = 1.5; g.beginPath(); g.moveTo(px, 0); g.lineTo(px, h - 10); g.stroke();
}
function drawTimelineLayer(g, w, h, dpr) {
  g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
  const x0 = TL.left, x1 = w - TL.right;
  g.fillStyle = "#0b0c10"; g.fillRect(x0, TL.top, x1 - x0, TL.yawH);
  if (S.strip) { g.imageSmoothingEnabled = true; g.drawImage(S.strip, x0, TL.top, x1 - x0, TL.yawH); }
  g.font = "10px ui-monospace, monospace"; g.fillStyle = "#9aa3b2"; g.textAlign = "right"; g.textBaseline = "middle";
  for (const d of [180, 90, 0, -90, -180]) {
    const y = tlY(d); g.fillText(`${d}°`, x0 - 4, y);
    g.strokeStyle = "rgba(255,255,255,.10)"; g.beginPath(); g.moveTo(x0, y); g.lineTo(x1, y); g.stroke();
  }
  const line = (yaw, style, width, dash) => {
    const ts = S.auto.t, cuts = new Set(S.path.cuts);
    g.strokeStyle = style; g.lineWidth = width; g.setLineDash(dash || []); g.beginPath();
    for (let i = 0; i < ts.length; i++) {
      const x = tlX(ts[i], w), y = tlY(yaw[i]);
      if (i === 0 || cuts.has(i) || Math.abs(yaw[i] - yaw[i - 1]) > 180) g.moveTo(x, y); else g.lineTo(x, y);
    }
    g.stroke(); g.setLineDash([]);
  };
  if (S.keys.length) line(S.auto.yaw, "rgba(255,255,255,.55)", 1, [3, 3]);
  line(S.path.yaw, "#39c5ff", 2);
  g.strokeStyle = "#ff7a45"; g.lineWidth = 1.5;
  for (const i of S.path.cuts) { const x = tlX(S.auto.t[i], w); g.beginPath(); g.moveTo(x, TL.top); g.lineTo(x, TL.top + TL.yawH); g.stroke(); }
  // keyframe lane: hold spans and draggable diamonds
  S.keys.forEach((k, n) => {
    const x = tlX(k.t, w), xe = tlX(Math.min(k.t + k.hold, S.job.source.duration), w);
    g.fillStyle = "rgba(255,212,59,.22)"; g.fillRect(x, TL.keyY - 5, Math.max(1, xe - x), 10);
    g.fillStyle = n === S.sel ? "#fff" : "#ffd43b";
    g.beginPath(); g.moveTo(x, TL.keyY - 7); g.lineTo(x + 7, TL.keyY); g.lineTo(x, TL.keyY + 7); g.lineTo(x - 7, TL.keyY); g.fill();
    g.beginPath(); g.arc(x, tlY(k.yaw), 3.5, 0, 7); g.fill();
  });
  g.fillStyle = "#9aa3b2"; g.textAlign = "center"; g.textBaseline = "bottom";
  for (let k = 0; k <= 5; k++) { const t = S.job.source.duration * k / 5; g.fillText(`${t.toFixed(1)}s`, clamp(tlX(t, w), x0 + 12, x1 - 14), h); }
}
function timelinePointer() {
  const c = $("timeline");
  const pos = (e) => { const r = c.getBoundingClientRect(); return { x: e.clientX - r.left, y: e.clientY - r.top, w: r.width }; };
  c.addEventListener("pointerdown", (e) => {
    const p = pos(e);
    const hit = S.keys.findIndex((k) => Math.abs(tlX(k.t, p.w) - p.x) < 8 && Math.abs(p.y - TL.keyY) < 10);
    c.setPointerCapture(e.pointerId);
    if (hit >= 0) { S.sel = hit; S.drag = { kind: "key", key: S.keys[hit] }; renderKeys(); }
    else { S.drag = { kind: "seek" }; seekTime(tlT(p.x, p.w)); }
  });
  c.addEventListener("pointermove", (e) => {
    if (!S.drag) return;
    const p = pos(e);
    if (S.drag.kind === "seek") seekTime(tlT(p.x, p.w));
    else if (S.drag.kind === "key") { S.drag.key.t = frameTime(frameAt(tlT(p.x, p.w))); S.drag.moved = true; drawTimeline(); }
  });
  const end = () => {
    if (!S.drag || S.drag.kind === "view") return;
    const d = S.drag; S.drag = null;
    if (d.kind === "key" && d.moved) { const k = d.key; S.keys = S.keys.filter((o) => o === k || frameAt(o.t) !== frameAt(k.t)); S.keys.sort((a, b) => a.t - b.t); S.sel = S.keys.indexOf(k); replan(); }
  };
  c.addEventListener("pointerup", end); c.addEventListener("pointercancel", end);
}

// ---------------------------------------------------------------- panorama thumbnail footprint
function drawFootprint(view) {
  const c = $("footprint"), w = c.clientWidth, h = c.clientHeight, dpr = window.devicePixelRatio || 1;
  if (!w) return;
  if (c.width !== Math.round(w * dpr)) { c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); }
  const g = c.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
  const x = (view.yaw / 360 + 0.5) * w, y = (0.5 - view.pitch / 180) * h;
  const rw = view.hfov / 360 * w, rh = view.vfov / 180 * h;
  g.strokeStyle = "#39c5ff"; g.lineWidth = 1.5;
  for (const dx of [-w, 0, w]) g.strokeRect(x + dx - rw / 2, y - rh / 2, rw, rh);
  g.fillStyle = "#39c5ff"; g.beginPath(); g.arc(x, y, 3, 0, 7); g.fill();
}

// ---------------------------------------------------------------- save and render
async function save() {
  $("save").disabled = true;
  try {
    const r = await api("/api/save", { keyframes: S.keys, edit: S.edit });
    S.saved = r; S.edit = r.name;
    $("out").hidden = false; $("savedname").textContent = `wrote ${r.name}`; $("command").textContent = r.command;
  } catch (err) { $("renderstate").textContent = err.message; $("out").hidden = false; } finally { $("save").disabled = false; }
}
async function render() {
  await save();  // Render renders what is on screen: saved first (a rendered edit is frozen: the next Save is a new edit-N)
  try { S.render = await api("/api/render", {}); } catch (err) { $("renderstate").textContent = err.message; return; }
  pollRender();
}
async function pollRender() {
  const r = await api("/api/render"); S.render = r;
  const running = r.state === "running";
  $("progress").hidden = r.state === "idle"; $("bar").style.width = `${r.total ? 100 * r.done / r.total : 0}%`;
  $("renderstate").textContent = running ? `rendering ${r.done}/${r.total} frames · ${r.elapsed.toFixed(0)} s` : r.message;
  $("cancel").hidden = !running; $("render").disabled = running;
  if (running) setTimeout(pollRender, 300);
}

// ---------------------------------------------------------------- strip
async function loadStrip() {
  const s = await api("/api/strip");
  $("stripnote").textContent = s.note;
  if (s.state === "computing") { setTimeout(loadStrip, 500); return; }
  if (s.state !== "ready") return;
  const img = new Image();
  img.onload = () => { S.strip = img; drawTimeline(); };
  img.src = `/api/strip.png?${Date.now()}`;
}

// ---------------------------------------------------------------- start
function keyboard(e) {
  if (e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
  const v = $("video");
  if (e.key === " ") { e.preventDefault(); togglePlay(); }
  else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
    e.preventDefault(); v.pause();
    const step = e.shiftKey ? Math.round(fps()) : 1;
    seekFrame(S.frame + (e.key === "ArrowRight" ? step : -step));
  } else if (e.key === "r" || e.key === "R") { resetHere(); }
  else if ((e.key === "Delete" || e.key === "Backspace") && S.sel >= 0) { S.keys.splice(S.sel, 1); S.sel = -1; replan(); }
  else if (e.key === "Home") seekFrame(0);
  else if (e.key === "End") seekFrame(S.auto.t.length - 1);
}
async function main() {
  const t0 = performance.now();
  S.job = await api("/api/job");
  S.auto = S.job.auto;
  S.path = S.job.edited || { yaw: S.auto.yaw, pitch: S.auto.pitch, hfov: S.auto.hfov, vfov: S.auto.vfov, cuts: S.auto.cuts, notes: [] };
  S.keys = S.job.keyframes || [];
  S.edit = S.job.edit;  // a reloaded page reopens the edit this server saved last; Save may rewrite only that one
  if (S.edit) { $("out").hidden = false; $("savedname").textContent = `reopened ${S.edit}`; }
  $("files").textContent = `${S.job.video} · ${S.job.trajectory} · ${S.job.source.width}×${S.job.source.height} ${S.job.source.fps.toFixed(2)} fps · ` +
    `${S.job.generator.localizer || "?"} + ${S.job.generator.planner || "?"} · limits ${S.job.limits.max_speed}°/s, ${S.job.limits.max_accel}°/s²`;
  $("audionote").textContent = `Sound: ${S.job.audio_note}.`;
  $("hold").value = S.job.hold;
  const v = $("video");
  v.muted = S.job.source.foa || !S.job.source.has_audio;  // FOA: the view-following stereo plays instead
  if (!initGL()) return;
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) v.requestVideoFrameCallback(onVideoFrame);
  for (const ev of ["seeked", "loadeddata", "pause"]) v.addEventListener(ev, () => { S.dirty = true; syncSound(true); });
  const icon = (playing) => $("playicon").setAttribute("d", playing ? "M3 2h4v12H3zM9 2h4v12H9z" : "M4 2v12l10-6z");
  v.addEventListener("play", () => { icon(true); syncSound(true); });
  v.addEventListener("pause", () => icon(false));
  v.addEventListener("ended", () => icon(false));
  setInterval(() => syncSound(false), 500);
  $("play").onclick = togglePlay;
  $("prev").onclick = () => { v.pause(); seekFrame(S.frame - 1); };
  $("next").onclick = () => { v.pause(); seekFrame(S.frame + 1); };
  $("reset").onclick = resetHere;
  $("clear").onclick = () => { S.keys = []; S.sel = -1; replan(); };
  $("save").onclick = save; $("render").onclick = render;
  $("cancel").onclick = async () => { await api("/api/render/cancel", {}); };
  $("copy").onclick = () => navigator.clipboard && navigator.clipboard.writeText($("command").textContent);
  document.addEventListener("keydown", keyboard);
  // A focused button would take space as a click too; keys belong to the player.
  for (const b of document.querySelectorAll("button")) b.addEventListener("click", () => b.blur());
  const fit = () => {  // the largest view of the output's aspect that leaves the timeline in sight
    const c = $("view"), w = $("viewbox").clientWidth, h = Math.max(200, window.innerHeight - 330);
    const k = Math.min(w / c.width, h / c.height);
    c.style.width = `${Math.floor(c.width * k)}px`; c.style.height = `${Math.floor(c.height * k)}px`; S.dirty = true;
  };
  window.addEventListener("resize", fit); fit();
  viewPointer(); timelinePointer(); renderKeys(); loadStrip();
  if (S.job.source.foa) makeSound();
  requestAnimationFrame(tick);
  await new Promise((ok) => (v.readyState >= 2 ? ok() : v.addEventListener("loadeddata", ok, { once: true })));
  draw();
  S.loadMs = performance.now() - t0;
}

// A small read-only window for tests and scripts.
window.panoView = {
  state: () => ({ frame: S.frame, drawn: S.drawn || null, paused: $("video").paused, time: $("video").currentTime,
    keyframes: S.keys, saved: S.saved, render: S.render, loadMs: S.loadMs, cuts: S.path && S.path.cuts,
    sound: $("sound").currentSrc || null, planned: S.planSeq }),
  seekFrame: (i) => { $("video").pause(); seekFrame(i); },
  snapshot: () => $("view").toDataURL("image/png"),
};
main().catch((err) => { $("files").textContent = `error: ${err.message}`; console.error(err); });

/* circuit-grammar graph explorer: draws an attribution graph on a canvas
 * (x = token position, y = layer), with hover, selection, pins, a |weight|
 * filter, kind toggles and a motif panel. Data: the JSON in #cgram-data
 * (reports/view.py). API: window.cgramView. */
(function () {
  "use strict";
  var started = performance.now();
  var D = JSON.parse(document.getElementById("cgram-data").textContent);

  function typed(text, Type) {
    var bin = atob(text), n = bin.length, bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  // ------------------------------------------------------------ the graph
  var N = D.nodes.count, E = D.edges.count;
  var ids = D.nodes.id, labels = D.nodes.label, kind = D.nodes.kind, kinds = D.nodes.kinds;
  var layer = D.nodes.layer, pos = D.nodes.pos, xs = typed(D.nodes.x, Float32Array);
  var src = typed(D.edges.src, Int32Array), dst = typed(D.edges.dst, Int32Array);
  var weight = typed(D.edges.weight, Float32Array);
  var residual = D.edges.residual ? typed(D.edges.residual, Float32Array) : null;
  var attention = D.edges.attention ? typed(D.edges.attention, Float32Array) : null;
  var motifs = D.motifs;
  var rowOf = new Map();
  ids.forEach(function (id, i) { rowOf.set(id, i); });

  var absW = new Float32Array(E), maxAbs = 0;
  for (var e = 0; e < E; e++) { absW[e] = Math.abs(weight[e]); if (absW[e] > maxAbs) maxAbs = absW[e]; }
  var sortedAbs = Float32Array.from(absW).sort();
  // width buckets by sqrt(|w| / max |w|): the weakest are drawn as one hairline
  // path, the few wide ones one by one (see renderBase)
  var NB = 6, bucket = new Uint8Array(E);
  for (e = 0; e < E; e++) {
    bucket[e] = Math.min(NB - 1, Math.floor(Math.sqrt(maxAbs > 0 ? absW[e] / maxAbs : 0) * NB));
  }
  function bucketWidth(b) { return 0.4 + 3.2 * (b + 0.5) / NB; }

  // in/out adjacency (counting sort by endpoint)
  function adjacency(end) {
    var start = new Int32Array(N + 1), list = new Int32Array(E), fill;
    for (var i = 0; i < E; i++) start[end[i] + 1]++;
    for (i = 0; i < N; i++) start[i + 1] += start[i];
    fill = start.slice(0, N);
    for (i = 0; i < E; i++) list[fill[end[i]]++] = i;
    return { start: start, list: list };
  }
  var outAdj = adjacency(src), inAdj = adjacency(dst);

  var minLayer = Infinity, maxLayer = -Infinity;
  for (var i = 0; i < N; i++) {
    if (layer[i] < minLayer) minLayer = layer[i];
    if (layer[i] > maxLayer) maxLayer = layer[i];
  }
  if (!(minLayer < maxLayer)) { minLayer = (N ? minLayer : 0) - 1; maxLayer = minLayer + 2; }
  var cols = D.columns, xTotal = 0;
  cols.width.forEach(function (w) { xTotal += w; });
  xTotal = Math.max(xTotal, 1);

  var KIND_COLOR = { embedding: "#3f9a3f", feature: "#4e79a7", error: "#a0a0a0",
                     logit: "#f28e2b", lorsa: "#9c6ade", lorsa_error: "#c7b5dd",
                     bias: "#8c6d31", unknown: "#555555" };
  var POS = "#2166ac", NEG = "#b2182b";

  // ------------------------------------------------------------ state
  var minWeight = 0, hiddenKind = new Uint8Array(kinds.length);
  var visibleE = new Uint8Array(E), visibleCount = 0;
  var lit = new Uint8Array(N), litE = new Uint8Array(E), litActive = false;
  var selected = -1, motifIndex = -1, pinned = [];
  var T = d3.zoomIdentity, hover = null;
  var timings = { firstDraw: null, lastDraw: null, draws: 0 };

  // ------------------------------------------------------------ DOM
  var stage = document.getElementById("cv-stage");
  var canvas = document.getElementById("cv-canvas"), overlay = document.getElementById("cv-overlay");
  var ctx = canvas.getContext("2d"), octx = overlay.getContext("2d");
  var tip = document.getElementById("cv-tip");
  var slider = document.getElementById("cv-slider"), thresholdText = document.getElementById("cv-threshold");
  var W = 0, H = 0, dpr = 1, sx = new Float32Array(N), sy = new Float32Array(N), tree = null;
  var M = { left: 58, right: 16, top: 18, bottom: 46 };

  var m = D.meta;
  document.getElementById("cv-meta").textContent = "model " + m.model + " · transcoder " +
    m.transcoder_type + " · task " + (m.task || "-") + " · " + N + " nodes, " + E +
    " edges · prompt: " + JSON.stringify(m.prompt || "");

  function fmt(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return Number(v).toPrecision(digits || 3);
  }
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function short(text, n) { text = String(text); return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  // ------------------------------------------------------------ layout
  function layoutNodes() {
    var rect = stage.getBoundingClientRect();
    W = Math.max(200, rect.width); H = Math.max(200, rect.height);
    dpr = window.devicePixelRatio || 1;
    [canvas, overlay].forEach(function (c) {
      c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
      c.style.width = W + "px"; c.style.height = H + "px";
    });
    var iw = W - M.left - M.right, ih = H - M.top - M.bottom;
    for (var i = 0; i < N; i++) {
      sx[i] = M.left + xs[i] / xTotal * iw;
      sy[i] = M.top + (1 - (layer[i] - minLayer) / (maxLayer - minLayer)) * ih;
    }
    buildTree();
  }

  // hover hit-testing searches the shown nodes only
  function buildTree() {
    tree = d3.quadtree().x(function (i) { return sx[i]; }).y(function (i) { return sy[i]; })
      .addAll(d3.range(N).filter(nodeShown));
  }

  function nodeRadius() {
    var slot = (W - M.left - M.right) / xTotal, row = (H - M.top - M.bottom) / (maxLayer - minLayer);
    return Math.max(1.6, Math.min(5, 0.42 * slot * T.k, 0.3 * row * T.k));
  }

  // ------------------------------------------------------------ filters
  function nodeShown(i) { return !hiddenKind[kind[i]]; }
  function refilter() {
    invalidate();
    visibleCount = 0;
    for (var e = 0; e < E; e++) {
      var v = absW[e] >= minWeight && !hiddenKind[kind[src[e]]] && !hiddenKind[kind[dst[e]]];
      visibleE[e] = v ? 1 : 0;
      visibleCount += v ? 1 : 0;
    }
    thresholdText.textContent = fmt(minWeight, 3) + " · " + visibleCount.toLocaleString() +
      " of " + E.toLocaleString() + " edges";
  }

  // ------------------------------------------------------------ drawing
  var pending = false;
  function schedule() {
    if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; draw(); }); }
  }

  function drawAxes(k, tx, ty) {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, H - M.bottom + 6, W, M.bottom);
    ctx.fillRect(0, 0, M.left - 6, H);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#333";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    var iw = W - M.left - M.right;
    var lastRight = -Infinity;
    for (var p = 0; p < cols.start.length; p++) {
      var cx = (M.left + (cols.start[p] + cols.width[p] / 2) / xTotal * iw) * k + tx;
      if (cx < M.left - 10 || cx > W) continue;
      var text = short(cols.token[p] === undefined ? "" : cols.token[p], 14);
      var half = Math.max(ctx.measureText(text).width, ctx.measureText(String(p)).width) / 2;
      if (cx - half < lastRight + 4) continue;  // skip labels that would overlap
      ctx.fillText(text, cx, H - M.bottom + 10);
      ctx.fillStyle = "#999"; ctx.fillText(String(p), cx, H - M.bottom + 25); ctx.fillStyle = "#333";
      lastRight = cx + half;
    }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    var ih = H - M.top - M.bottom, lastY = Infinity;
    for (var l = maxLayer; l >= minLayer; l--) {
      var y = (M.top + (1 - (l - minLayer) / (maxLayer - minLayer)) * ih) * k + ty;
      if (y < 0 || y > H - M.bottom + 6 || Math.abs(y - lastY) < 12) continue;
      var name = l === minLayer && kinds.indexOf("embedding") >= 0 ? "emb" :
        (l === maxLayer && kinds.indexOf("logit") >= 0 ? "logit" : "L" + l);
      ctx.fillText(name, M.left - 10, y);
      lastY = y;
    }
  }

  // The base layer (every visible edge and node, no highlight) is drawn once
  // per view and filter into an off-screen canvas; a highlight then costs one
  // faded blit plus its own few edges. Above LOD_EDGES visible edges the
  // hairline bulk is rasterised at half resolution and scaled up: software
  // rasterising of ~40,000 anti-aliased lines dominates the frame otherwise.
  var LOD_EDGES = 8000, WIDE = 2;
  var base = document.createElement("canvas"), bctx = base.getContext("2d");
  var low = document.createElement("canvas"), lctx = low.getContext("2d");
  var baseValid = false;
  function invalidate() { baseValid = false; }

  function strokeEach(target, list, k, tx, ty, widthScale) {
    // wide lines one by one: stroking thousands of wide segments as one path
    // makes the stroker union them, which is orders of magnitude slower
    for (var j = 0; j < list.length; j++) {
      var e = list[j], s = src[e], d = dst[e];
      target.strokeStyle = weight[e] < 0 ? NEG : POS;
      target.lineWidth = Math.max(1, bucketWidth(bucket[e]) * widthScale);
      target.beginPath();
      target.moveTo(sx[s] * k + tx, sy[s] * k + ty);
      target.lineTo(sx[d] * k + tx, sy[d] * k + ty);
      target.stroke();
    }
  }

  function renderBase() {
    var k = T.k, tx = T.x, ty = T.y, zoomWidth = Math.min(Math.sqrt(k), 3);
    base.width = canvas.width; base.height = canvas.height;
    bctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    bctx.lineCap = "butt";
    var reduced = visibleCount > LOD_EDGES, scale = reduced ? 0.5 : 1, target = bctx;
    if (reduced) {
      low.width = Math.ceil(canvas.width * scale); low.height = Math.ceil(canvas.height * scale);
      lctx.setTransform(dpr * scale, 0, 0, dpr * scale, 0, 0);
      target = lctx;
    }
    var hair = [new Path2D(), new Path2D()], wide = [], e, s, d;
    for (e = 0; e < E; e++) {
      if (!visibleE[e]) continue;
      if (bucket[e] >= WIDE) { wide.push(e); continue; }
      s = src[e]; d = dst[e];
      var p = hair[weight[e] < 0 ? 1 : 0];
      p.moveTo(sx[s] * k + tx, sy[s] * k + ty);
      p.lineTo(sx[d] * k + tx, sy[d] * k + ty);
    }
    target.lineWidth = 1 / scale;  // one device pixel either way
    // fainter as edges crowd, so dense graphs keep their structure readable
    target.globalAlpha = Math.min(0.35, Math.max(0.07, 25 / Math.sqrt(Math.max(visibleCount, 1)))) *
      (reduced ? 1.4 : 1);
    target.strokeStyle = POS; target.stroke(hair[0]);
    target.strokeStyle = NEG; target.stroke(hair[1]);
    if (reduced) {
      bctx.setTransform(1, 0, 0, 1, 0, 0);
      bctx.drawImage(low, 0, 0, base.width, base.height);
      bctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    wide.sort(function (a, b) { return absW[a] - absW[b]; });  // strongest on top
    bctx.globalAlpha = 0.75;
    strokeEach(bctx, wide, k, tx, ty, zoomWidth);
    bctx.globalAlpha = 1;
    drawNodes(bctx, null, k, tx, ty);
    baseValid = true;
  }

  function drawNodes(target, only, k, tx, ty) {
    var r = nodeRadius();
    for (var c = 0; c < kinds.length; c++) {
      if (hiddenKind[c]) continue;
      var dots = new Path2D(), any = false;
      for (var i = 0; i < N; i++) {
        if (kind[i] !== c || (only && !only[i])) continue;
        var X = sx[i] * k + tx, Y = sy[i] * k + ty, rr = only ? r * 1.5 : r;
        if (X < -rr || X > W + rr || Y < -rr || Y > H + rr) continue;
        dots.moveTo(X + rr, Y); dots.arc(X, Y, rr, 0, 2 * Math.PI);
        any = true;
      }
      if (!any) continue;
      target.fillStyle = KIND_COLOR[kinds[c]] || "#555";
      target.fill(dots);
    }
  }

  function draw() {
    var t0 = performance.now();
    var k = T.k, tx = T.x, ty = T.y, r = nodeRadius(), i;
    if (!baseValid) renderBase();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = litActive ? 0.13 : 1;
    ctx.drawImage(base, 0, 0);
    ctx.globalAlpha = 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.lineCap = "round";
    if (litActive) {
      var litList = [];
      for (var e = 0; e < E; e++) if (litE[e] && visibleE[e]) litList.push(e);
      litList.sort(function (a, b) { return absW[a] - absW[b]; });
      ctx.globalAlpha = 0.9;
      strokeEach(ctx, litList, k, tx, ty, 1.6 * Math.min(Math.sqrt(k), 3));
      ctx.globalAlpha = 1;
      drawNodes(ctx, lit, k, tx, ty);
    }
    // pins: a dark ring; lit nodes: their labels
    ctx.strokeStyle = "#111"; ctx.lineWidth = 2;
    pinned.forEach(function (i) {
      if (!nodeShown(i)) return;
      ctx.beginPath(); ctx.arc(sx[i] * k + tx, sy[i] * k + ty, r * 1.2 + 2.5, 0, 2 * Math.PI); ctx.stroke();
    });
    if (litActive) {
      ctx.font = "12px sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
      var shown = 0;
      for (i = 0; i < N && shown < 40; i++) {
        if (!lit[i] || !nodeShown(i)) continue;
        var text = short(labels[i], 32), width = ctx.measureText(text).width;
        var lx = sx[i] * k + tx + r * 1.5 + 3, ly = sy[i] * k + ty;
        if (lx + width > W) lx = sx[i] * k + tx - r * 1.5 - 3 - width;  // keep it on screen
        ctx.fillStyle = "rgba(255,255,255,.8)";
        ctx.fillRect(lx - 1, ly - 7, width + 2, 14);
        ctx.fillStyle = "#111"; ctx.fillText(text, lx, ly);
        shown++;
      }
    }
    drawAxes(k, tx, ty);
    var t1 = performance.now();
    timings.lastDraw = t1 - t0;
    timings.draws++;
    drawOverlay();
    return t1 - t0;
  }

  function drawOverlay() {
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    octx.clearRect(0, 0, W, H);
    if (!hover) return;
    var k = T.k, tx = T.x, ty = T.y;
    octx.strokeStyle = "#000"; octx.lineWidth = 2;
    if (hover.node !== undefined) {
      octx.beginPath();
      octx.arc(sx[hover.node] * k + tx, sy[hover.node] * k + ty, nodeRadius() + 3, 0, 2 * Math.PI);
      octx.stroke();
    } else {
      var e = hover.edge;
      octx.lineWidth = 3; octx.strokeStyle = "rgba(0,0,0,.6)";
      octx.beginPath();
      octx.moveTo(sx[src[e]] * k + tx, sy[src[e]] * k + ty);
      octx.lineTo(sx[dst[e]] * k + tx, sy[dst[e]] * k + ty);
      octx.stroke();
    }
  }

  // ------------------------------------------------------------ hit tests
  function nodeAt(mx, my) {
    var bx = (mx - T.x) / T.k, by = (my - T.y) / T.k;
    var found = tree.find(bx, by, (nodeRadius() + 4) / T.k);
    return found === undefined ? -1 : found;
  }
  function edgeAt(mx, my) {
    var bx = (mx - T.x) / T.k, by = (my - T.y) / T.k, tol = 4 / T.k, best = -1, bestD = tol * tol;
    for (var e = 0; e < E; e++) {
      if (!visibleE[e]) continue;
      var ax = sx[src[e]], ay = sy[src[e]], dx = sx[dst[e]] - ax, dy = sy[dst[e]] - ay;
      var len = dx * dx + dy * dy, t = len > 0 ? ((bx - ax) * dx + (by - ay) * dy) / len : 0;
      t = t < 0 ? 0 : (t > 1 ? 1 : t);
      var ex = ax + t * dx - bx, ey = ay + t * dy - by, dd = ex * ex + ey * ey;
      if (dd < bestD) { bestD = dd; best = e; }
    }
    return best;
  }

  function nodeText(i) {
    var rows = [["kind", kinds[kind[i]]], ["id", D.nodes.node_id[i]], ["layer", layer[i]],
                ["position", pos[i] + (cols.token[pos[i]] !== undefined ?
                  " (" + JSON.stringify(cols.token[pos[i]]) + ")" : "")],
                ["activation", fmt(D.nodes.activation[i])], ["influence", fmt(D.nodes.influence[i])]];
    if (D.nodes.feature[i] !== null) rows.push(["feature", D.nodes.feature[i]]);
    if (D.nodes.prob[i] !== null && kinds[kind[i]] === "logit") rows.push(["probability", fmt(D.nodes.prob[i])]);
    return '<div class="cv-label">' + esc(labels[i]) + "</div>" + rows.map(function (r) {
      return esc(r[0]) + ": <b>" + esc(r[1]) + "</b>";
    }).join("<br>");
  }
  function edgeText(e) {
    var text = '<div class="cv-label">' + esc(short(labels[src[e]], 40)) + " → " +
      esc(short(labels[dst[e]], 40)) + "</div>weight: <b class=\"" + (weight[e] < 0 ? "cv-neg" : "cv-pos") +
      '">' + fmt(weight[e], 4) + "</b>";
    if (residual) text += "<br>residual-direct: <b>" + fmt(residual[e], 4) + "</b><br>attention-mediated: <b>" +
      fmt(attention[e], 4) + "</b>";
    return text;
  }

  function showTip(html, mx, my) {
    tip.innerHTML = html;
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(mx + 14, W - w - 4) + "px";
    tip.style.top = Math.max(4, Math.min(my + 14, H - h - 4)) + "px";
  }

  function onMove(event) {
    var pt = d3.pointer(event, overlay), node = nodeAt(pt[0], pt[1]);
    if (node >= 0) {
      hover = { node: node };
      showTip(nodeText(node), pt[0], pt[1]);
    } else {
      var edge = edgeAt(pt[0], pt[1]);
      if (edge >= 0) { hover = { edge: edge }; showTip(edgeText(edge), pt[0], pt[1]); }
      else { hover = null; tip.hidden = true; }
    }
    drawOverlay();
  }

  // ------------------------------------------------------------ highlight
  function clearLit() { lit.fill(0); litE.fill(0); litActive = false; }

  function strongest(adj, i, limit) {
    var list = [];
    for (var j = adj.start[i]; j < adj.start[i + 1]; j++) {
      var e = adj.list[j];
      if (nodeShown(src[e]) && nodeShown(dst[e])) list.push(e);
    }
    list.sort(function (a, b) { return absW[b] - absW[a]; });
    return list.slice(0, limit);
  }

  function edgeRows(list, other) {
    return "<table class=\"cv-edges\">" + list.map(function (e) {
      var n = other === "src" ? src[e] : dst[e];
      return '<tr data-node="' + n + '"><td>' + esc(short(labels[n], 38)) + '</td><td class="num ' +
        (weight[e] < 0 ? "cv-neg" : "cv-pos") + '">' + fmt(weight[e], 3) + "</td></tr>";
    }).join("") + "</table>";
  }

  var detail = document.getElementById("cv-detail"), detailHint = detail.innerHTML;
  function selectRow(i) {
    clearLit(); setActiveMotif(-1);
    selected = i;
    var ins = strongest(inAdj, i, 10), outs = strongest(outAdj, i, 10);
    lit[i] = 1;
    ins.concat(outs).forEach(function (e) { litE[e] = 1; lit[src[e]] = 1; lit[dst[e]] = 1; });
    litActive = true;
    detail.innerHTML = "<h2>Node</h2>" + nodeText(i) +
      "<h2>Strongest incoming (" + (inAdj.start[i + 1] - inAdj.start[i]) + ")</h2>" + edgeRows(ins, "src") +
      "<h2>Strongest outgoing (" + (outAdj.start[i + 1] - outAdj.start[i]) + ")</h2>" + edgeRows(outs, "dst");
    draw();
    return labels[i];
  }
  detail.addEventListener("click", function (event) {
    var row = event.target.closest("tr[data-node]");
    if (row) selectRow(+row.getAttribute("data-node"));
  });

  function clearAll() {
    clearLit(); selected = -1; setActiveMotif(-1);
    detail.innerHTML = detailHint;
    draw();
  }

  var motifList = document.getElementById("cv-motif-list");
  function motifText(mo, index) {
    if (mo.kind === "ffl") {
      return "FFL " + (mo.sign_type ? mo.sign_type.replace("ffl_", "") + " " : "") + "· strength " +
        fmt(mo.strength) + ": " + mo.nodes.map(function (n) { return esc(short(labels[n], 22)); }).join(" → ");
    }
    return "Cascade → " + esc(short(labels[mo.logit], 20)) + " · " + (mo.coherent ? "coherent" : "incoherent") +
      " · strength " + fmt(mo.strength) + ": " + mo.path.map(function (n) { return esc(short(labels[n], 16)); }).join(" → ") +
      (mo.sign_types.length ? " [" + mo.sign_types.map(function (s) { return String(s).replace("ffl_", ""); }).join(", ") + "]" : "");
  }
  motifList.innerHTML = motifs.length ? motifs.map(function (mo, index) {
    return '<li data-motif="' + index + '">' + motifText(mo, index) + "</li>";
  }).join("") : "<p class=\"cv-hint\">No feed-forward loops in this graph.</p>";
  motifList.addEventListener("click", function (event) {
    var item = event.target.closest("li[data-motif]");
    if (item) highlightMotif(+item.getAttribute("data-motif"));
  });
  function setActiveMotif(index) {
    motifIndex = index;
    Array.prototype.forEach.call(motifList.children, function (li, j) {
      li.classList.toggle("cv-active", j === index);
    });
    if (index >= 0 && motifList.children[index] && motifList.children[index].scrollIntoView) {
      motifList.children[index].scrollIntoView({ block: "nearest" });
    }
  }

  function highlightMotif(index) {
    if (!(index >= 0 && index < motifs.length)) {
      throw new RangeError("highlightMotif: no motif " + index + " (there are " + motifs.length + ")");
    }
    clearLit(); selected = -1;
    var mo = motifs[index];
    mo.nodes.forEach(function (n) { lit[n] = 1; });
    mo.edges.forEach(function (e) { if (e >= 0) litE[e] = 1; });
    litActive = true;
    setActiveMotif(index);
    var more = "";
    if (mo.kind === "ffl") {
      more = "<p>weights X→Y " + fmt(mo.weights[0]) + ", Y→Z " + fmt(mo.weights[1]) +
        ", X→Z " + fmt(mo.weights[2]) + "</p>";
    } else if (mo.stages.length === mo.path.length) {
      more = "<ol>" + mo.path.map(function (n, j) {
        return "<li>" + esc(short(labels[n], 40)) + " <i>(" + esc(mo.stages[j]) + ")</i></li>";
      }).join("") + "</ol>";
    }
    detail.innerHTML = "<h2>Motif " + (index + 1) + "</h2><p>" + motifText(mo, index) + "</p>" + more;
    draw();
    return highlighted();
  }

  function highlighted() {
    var out = [];
    if (!litActive) return out;
    for (var i = 0; i < N; i++) if (lit[i]) out.push(ids[i]);
    return out;
  }

  // ------------------------------------------------------------ pins + export
  var pinList = document.getElementById("cv-pin-list"), pinCount = document.getElementById("cv-pin-count");
  function renderPins() {
    pinCount.textContent = pinned.length;
    pinList.innerHTML = pinned.map(function (i) {
      return '<li data-node="' + i + '">' + esc(short(labels[i], 40)) + "</li>";
    }).join("");
  }
  pinList.addEventListener("click", function (event) {
    var item = event.target.closest("li[data-node]");
    if (item) selectRow(+item.getAttribute("data-node"));
  });
  function togglePin(i) {
    var at = pinned.indexOf(i);
    if (at >= 0) pinned.splice(at, 1); else pinned.push(i);
    renderPins(); draw();
  }

  function exportPinned() {
    var np = D.neuronpedia, field = np.pin_field, nodes = np.nodes, links = new Array(E);
    for (var e = 0; e < E; e++) {
      links[e] = { source: nodes[src[e]].node_id, target: nodes[dst[e]].node_id, weight: weight[e] };
    }
    var q = Object.assign({ supernodes: [], linkType: "both", clickedId: "", sg_pos: "" }, np.qParams);
    q.pinnedIds = pinned.map(function (i) { return nodes[i][field] || nodes[i].node_id; });
    q.clickedId = selected >= 0 ? nodes[selected].node_id : (q.clickedId || "");
    return JSON.stringify({ metadata: np.metadata, qParams: q, nodes: nodes, links: links });
  }
  document.getElementById("cv-export").addEventListener("click", function () {
    var blob = new Blob([exportPinned()], { type: "application/json" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = (D.meta.slug || "graph") + "-pinned.json";
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
  });

  // ------------------------------------------------------------ controls
  function setMinWeight(x) {
    x = Math.max(0, Number(x) || 0);
    minWeight = x;
    // the slider moves through |weight| quantiles: its value is the share of weaker edges
    var lo = 0, hi = E;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (sortedAbs[mid] < x) lo = mid + 1; else hi = mid; }
    slider.value = E ? Math.round(lo / E * 1000) : 0;
    refilter(); draw();
    return visibleCount;
  }
  slider.addEventListener("input", function () {
    var v = +slider.value;
    minWeight = v <= 0 || !E ? 0 : sortedAbs[Math.min(E - 1, Math.floor(v / 1000 * E))];
    refilter(); schedule();
  });
  var kindBox = document.getElementById("cv-kinds");
  kindBox.innerHTML = kinds.map(function (name, c) {
    return '<label><input type="checkbox" data-kind="' + c + '" checked><span class="cv-swatch" style="background:' +
      (KIND_COLOR[name] || "#555") + '"></span>' + esc(name) + "</label>";
  }).join("");
  kindBox.addEventListener("change", function (event) {
    var c = event.target.getAttribute("data-kind");
    if (c === null) return;
    hiddenKind[+c] = event.target.checked ? 0 : 1;
    buildTree(); refilter(); draw();
  });

  var zoom = d3.zoom().scaleExtent([0.5, 40]).on("zoom", function (event) {
    T = event.transform; invalidate(); schedule();
  });
  var zoomed = d3.select(overlay).call(zoom).on("dblclick.zoom", null);
  document.getElementById("cv-reset").addEventListener("click", function () {
    zoomed.call(zoom.transform, d3.zoomIdentity);
  });
  overlay.addEventListener("mousemove", onMove);
  overlay.addEventListener("mouseleave", function () { hover = null; tip.hidden = true; drawOverlay(); });
  overlay.addEventListener("click", function (event) {
    var pt = d3.pointer(event, overlay), i = nodeAt(pt[0], pt[1]);
    if (i < 0) { if (!event.shiftKey) clearAll(); return; }
    if (event.shiftKey) togglePin(i); else selectRow(i);
  });
  document.addEventListener("keydown", function (event) {
    if (event.target && /INPUT|TEXTAREA|SELECT/.test(event.target.tagName) && event.target.type !== "range") return;
    if (!motifs.length && event.key !== "Escape") return;
    if (event.key === "n" || event.key === "N" || event.key === "]") {
      highlightMotif((motifIndex + 1) % motifs.length);
    } else if (event.key === "p" || event.key === "P" || event.key === "[") {
      highlightMotif((motifIndex - 1 + motifs.length) % motifs.length);
    } else if (event.key === "Escape") {
      clearAll();
    }
  });
  window.addEventListener("resize", function () { layoutNodes(); invalidate(); draw(); });

  function rowFor(nodeId) {
    var i = rowOf.get(String(nodeId));
    if (i === undefined) throw new RangeError("cgramView: no node with id " + JSON.stringify(nodeId));
    return i;
  }

  // ------------------------------------------------------------ first draw
  layoutNodes();
  D.pinned.forEach(function (i) { if (pinned.indexOf(i) < 0) pinned.push(i); });
  renderPins();
  refilter();
  draw();
  timings.firstDraw = performance.now() - started;
  timings.sinceNavigation = performance.now();

  window.cgramView = {
    select: function (nodeId) { return selectRow(rowFor(nodeId)); },
    highlightMotif: highlightMotif,
    highlighted: highlighted,
    visibleEdgeCount: function () { return visibleCount; },
    setMinWeight: setMinWeight,
    clear: clearAll,
    pin: function (nodeId) { var i = rowFor(nodeId); if (pinned.indexOf(i) < 0) togglePin(i); return pinnedIds(); },
    pinned: pinnedIds,
    exportPinned: exportPinned,
    motifs: function () { return motifs.map(function (mo) { return mo.nodes.map(function (n) { return ids[n]; }); }); },
    screenPosition: function (nodeId) {
      var i = rowFor(nodeId), box = overlay.getBoundingClientRect();
      return [box.left + sx[i] * T.k + T.x, box.top + sy[i] * T.k + T.y];
    },
    redraw: function () { invalidate(); return draw(); },
    timings: timings,
    library: D.library
  };
  function pinnedIds() { return pinned.map(function (i) { return ids[i]; }); }
})();

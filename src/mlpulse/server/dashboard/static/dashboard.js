// mlpulse dashboard: draws every <div class="chart" data-src> with ECharts, wires the
// range picker, auto-refresh and htmx (CSRF header, error messages). No inline scripts:
// the pages' Content-Security-Policy admits scripts from the collector only.
(function () {
  "use strict";

  var instances = new Map();
  var NO_DATA = "no data in this range";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function timeText(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + " UTC";
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // Every time axis is UTC, like the header's clock: labels formatted from the UTC
  // fields, the axis named "UTC", ECharts' own time formatting (tooltips) in UTC too.
  var DAY_MS = 86400000;

  function tickText(ms, span) {
    var d = new Date(ms);
    var date = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    var clock = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (clock === "00:00") { return date; }
    return span <= 2 * DAY_MS ? clock : date + " " + clock;
  }

  // About one label per 110 px: "12-07 17:30" is about 70 px wide at 12 px. ECharts
  // hides a label that would still overlap its neighbour.
  function timeAxis(data, width, extra) {
    var range = data.x_range;
    var span = range ? range[1] - range[0] : 7 * DAY_MS;
    var axis = {
      type: "time",
      name: "UTC",
      nameLocation: "end",
      nameGap: 6,
      nameTextStyle: { color: "#5d6b7a", fontSize: 11, verticalAlign: "top", padding: [14, 0, 0, 0] },
      splitNumber: Math.max(2, Math.floor((width - 100) / 110)),
      axisLabel: {
        hideOverlap: true,
        showMinLabel: false,
        showMaxLabel: false,
        formatter: function (value) { return tickText(value, span); }
      }
    };
    if (range) { axis.min = range[0]; axis.max = range[1]; }
    Object.keys(extra || {}).forEach(function (key) {
      if (key === "axisLabel") {
        Object.keys(extra.axisLabel).forEach(function (k) { axis.axisLabel[k] = extra.axisLabel[k]; });
      } else {
        axis[key] = extra[key];
      }
    });
    return axis;
  }

  // A line chart's tooltip: the time (UTC, named) and each series' value; names are
  // text (a version is whatever the serving code sent).
  function axisTooltip(params) {
    var list = Array.isArray(params) ? params : [params];
    if (!list.length || !list[0].value) { return ""; }
    return escapeHtml(timeText(list[0].value[0])) + list.map(function (p) {
      return "<br>" + p.marker + escapeHtml(p.seriesName) + ": <strong>" +
        escapeHtml(number(p.value[1])) + "</strong>";
    }).join("");
  }

  function number(v) {
    if (v === null || v === undefined || !isFinite(v)) { return "—"; }
    var a = Math.abs(v);
    if (a !== 0 && (a < 0.001 || a >= 1e6)) { return v.toExponential(2); }
    return String(Math.round(v * 1000) / 1000);
  }

  function flash(text) {
    var box = document.getElementById("flash");
    if (!box) { return; }
    box.textContent = text;
    box.hidden = !text;
  }

  function dispose(el) {
    var chart = instances.get(el);
    if (chart) { chart.dispose(); instances.delete(el); }
  }

  function showMessage(el, state, text) {
    dispose(el);
    el.style.height = "";
    el.textContent = "";
    var p = document.createElement("p");
    p.className = "no-data";
    p.textContent = text;
    el.appendChild(p);
    el.setAttribute("data-points", "0");
    el.setAttribute("data-rendered", state);
  }

  function markLine(data) {
    if (data.markers && data.markers.length) {
      return {
        symbol: "none",
        animation: false,
        lineStyle: { type: "dashed", color: "#8e44ad" },
        label: { formatter: "{b}", position: "insideEndTop", fontSize: 10 },
        data: data.markers.map(function (m) { return { xAxis: m.at, name: m.label }; })
      };
    }
    if (data.zero_line) {
      return {
        symbol: "none", animation: false, silent: true,
        lineStyle: { type: "solid", color: "#888" },
        label: { show: false },
        data: [{ yAxis: 0 }]
      };
    }
    return undefined;
  }

  // Legends wrap onto as many rows as their names need (a paged legend hides names):
  // the rows are counted here, from the names' widths, to make room above the plot.
  var LEGEND_ROW = 24;
  var measure = null;

  function textWidth(text) {
    if (measure === null) {
      var canvas = document.createElement("canvas");
      measure = canvas.getContext ? canvas.getContext("2d") : undefined;
      if (measure) { measure.font = "12px sans-serif"; }
    }
    return measure ? measure.measureText(text).width : text.length * 7;
  }

  function legendRows(names, width) {
    // An item is its icon (25 px), a gap (5 px) and its text; items are 10 px apart.
    var rows = 1;
    var x = 0;
    names.forEach(function (name) {
      var w = 30 + textWidth(name);
      if (x > 0 && x + w > width) { rows += 1; x = 0; }
      x += w + 10;
    });
    return rows;
  }

  // The legend's on/off choices survive a refresh (setOption replaces the option).
  function legendSelected(data, chart) {
    var selected = {};
    (data.hidden || []).forEach(function (name) { selected[name] = false; });
    if (chart) {
      var before = chart.getOption();
      var legend = before && before.legend && before.legend[0];
      if (legend && legend.selected) {
        data.series.forEach(function (s) {
          if (Object.prototype.hasOwnProperty.call(legend.selected, s.name)) {
            selected[s.name] = legend.selected[s.name];
          }
        });
      }
    }
    return selected;
  }

  // ECharts' own palette, named so that series of one key (a version's quantiles) can
  // share a colour while the others keep theirs.
  var PALETTE = ["#5070dd", "#b6d634", "#505372", "#ff994d", "#0ca8df", "#ffd10a",
                 "#fb628b", "#785db0", "#3fbe95"];

  function colourKeys(data) {
    var keys = [];
    var colourOf = data.color_of || {};
    data.series.forEach(function (s) {
      var key = colourOf[s.name];
      if (key !== undefined && keys.indexOf(key) < 0) { keys.push(key); }
    });
    return keys;
  }

  function lineSeries(data, s, extra, keys) {
    var key = (data.color_of || {})[s.name];
    var colour = key !== undefined ? PALETTE[keys.indexOf(key) % PALETTE.length] : undefined;
    var type = (data.line_type || {})[s.name];
    var series = {
      name: s.name,
      type: "line",
      showSymbol: s.data.length < 40,
      connectNulls: false,
      data: s.data,
      itemStyle: colour ? { color: colour } : undefined,
      lineStyle: type || colour ? { type: type || "solid", color: colour } : undefined
    };
    Object.keys(extra).forEach(function (key) { series[key] = extra[key]; });
    return series;
  }

  // Each panel has a y axis (and unit) of its own over a shared time axis: one unit per
  // axis, so a share never lies flat under milliseconds.
  function panelOption(data, chart, width) {
    var panels = data.panels;
    var where = {};
    panels.forEach(function (p, i) { p.series.forEach(function (name) { where[name] = i; }); });
    var several = panels.some(function (p) { return p.series.length > 1; });
    var names = data.series.map(function (s) { return s.name; });
    var top = several ? 8 + legendRows(names, width - 16) * LEGEND_ROW : 8;
    var height = panels.length > 3 ? 90 : 110;
    var step = height + 40;
    var grids = [];
    var xAxes = [];
    var yAxes = [];
    var titles = [];
    // One time span for every panel: a panel whose series has a single point (a KPI
    // of one hour) would otherwise centre it on an axis of its own.
    var first = Infinity;
    var last = -Infinity;
    data.series.forEach(function (s) {
      s.data.forEach(function (point) {
        if (point[0] < first) { first = point[0]; }
        if (point[0] > last) { last = point[0]; }
      });
    });
    var span = data.x_range ? {} : first <= last ? { min: first, max: last } : {};
    panels.forEach(function (p, i) {
      var gridTop = top + 24 + i * step;
      grids.push({ left: 64, right: 24, top: gridTop, height: height });
      titles.push({
        text: p.title + " (" + p.unit + ")", left: 60, top: gridTop - 22,
        textStyle: { fontSize: 12, fontWeight: "normal", color: "#5d6b7a" }
      });
      xAxes.push(Object.assign(timeAxis(data, width, {
        gridIndex: i, name: i === panels.length - 1 ? "UTC" : "",
        axisLabel: { show: i === panels.length - 1 } }), span));
      yAxes.push({ type: "value", gridIndex: i, scale: !!data.scale, splitNumber: 3,
                   axisLabel: { formatter: number } });
    });
    var all = panels.map(function (p, i) { return i; });
    return {
      height: top + 24 + panels.length * step + 20,
      option: {
        animation: false,
        useUTC: true,
        title: titles,
        tooltip: { trigger: "axis", formatter: axisTooltip },
        axisPointer: { link: [{ xAxisIndex: "all" }] },
        legend: several ? { type: "plain", top: 4, left: 8, right: 8,
                            selected: legendSelected(data, chart) } : { show: false },
        grid: grids,
        xAxis: xAxes,
        yAxis: yAxes,
        dataZoom: [{ type: "inside", xAxisIndex: all },
                   { type: "slider", xAxisIndex: all, height: 16, bottom: 8 }],
        color: PALETTE,
        series: data.series.map(function (s) {
          var i = where[s.name] || 0;
          return lineSeries(data, s, { xAxisIndex: i, yAxisIndex: i }, []);
        })
      }
    };
  }

  function lineOption(data, chart, width, base) {
    if (data.panels && data.panels.length) { return panelOption(data, chart, width); }
    var second = data.second_axis || [];
    // Rates and counts start at zero; metrics like AUC zoom in on their range (scale).
    var yAxes = [{ type: "value", name: data.unit, scale: !!data.scale, axisLabel: { formatter: number } }];
    if (second.length) {
      yAxes.push({ type: "value", name: data.second_unit, min: 0, axisLabel: { formatter: number } });
    }
    var names = data.series.map(function (s) { return s.name; });
    var rows = legendRows(names, width - 16);
    var mark = markLine(data);
    var keys = colourKeys(data);
    return {
      // Two rows of legend fit the chart's own height; more rows make it taller.
      height: base + Math.max(0, rows - 2) * LEGEND_ROW,
      option: {
        animation: false,
        useUTC: true,
        tooltip: { trigger: "axis", formatter: axisTooltip },
        legend: { type: "plain", top: 4, left: 8, right: 8, selected: legendSelected(data, chart) },
        grid: { left: 64, right: second.length ? 64 : 36, top: 8 + rows * LEGEND_ROW + 28, bottom: 64 },
        xAxis: timeAxis(data, width),
        yAxis: yAxes,
        dataZoom: [{ type: "inside" }, { type: "slider", height: 16, bottom: 8 }],
        color: PALETTE,
        series: data.series.map(function (s, i) {
          return lineSeries(data, s, {
            yAxisIndex: second.indexOf(s.name) >= 0 ? 1 : 0,
            markLine: i === 0 ? mark : undefined
          }, keys);
        })
      }
    };
  }

  // Drift severity per feature: one row per feature (every one labelled, worst first at
  // the top; the chart grows with the rows), each cell the window its value describes on
  // the page's time axis. The colour scale is fixed: 0 none, 1 warning, 2 critical and
  // above. Names are text, never HTML: the tooltip escapes them.
  var HEATMAP_ROW = 22;
  var HEATMAP_LABEL = 150;
  var SEVERITY_TOP = 2;

  function heatmapOption(data, width, base) {
    var cells = data.cells.map(function (c) { return c.concat([Math.min(c[2], SEVERITY_TOP)]); });
    var top = 12;
    var bottom = 96;
    function renderItem(params, api) {
      var from = api.coord([api.value(0), api.value(1)]);
      var to = api.coord([api.value(3), api.value(1)]);
      var h = api.size([0, 1])[1];
      var box = params.coordSys;
      var rect = window.echarts.graphic.clipRectByRect(
        { x: from[0], y: from[1] - h / 2 + 1, width: Math.max(to[0] - from[0], 2), height: h - 2 },
        { x: box.x, y: box.y, width: box.width, height: box.height });
      return rect && { type: "rect", shape: rect, style: { fill: api.visual("color") } };
    }
    return {
      height: Math.max(base, top + bottom + data.y.length * HEATMAP_ROW),
      option: {
        animation: false,
        useUTC: true,
        tooltip: {
          trigger: "item",
          formatter: function (p) {
            var row = p.value[1];
            var method = data.methods && data.methods[row];
            return "<strong>" + escapeHtml(data.y[row]) + "</strong>" +
              (method ? " (" + escapeHtml(method) + ")" : "") + "<br>" +
              escapeHtml(timeText(p.value[0]) + " → " + timeText(p.value[3])) + "<br>" +
              escapeHtml(data.unit) + " " + number(p.value[2]);
          }
        },
        title: {
          text: data.legend, left: 8, bottom: 4,
          textStyle: { fontSize: 12, fontWeight: "normal", color: "#5d6b7a" }
        },
        grid: { left: HEATMAP_LABEL + 16, right: 36, top: top, bottom: bottom },
        xAxis: timeAxis(data, width - HEATMAP_LABEL, { splitLine: { show: false } }),
        yAxis: {
          type: "category",
          data: data.y,
          inverse: true,
          axisTick: { show: false },
          axisLabel: { interval: 0, width: HEATMAP_LABEL - 8, overflow: "truncate" }
        },
        visualMap: {
          type: "continuous", min: 0, max: SEVERITY_TOP, dimension: 4, seriesIndex: 0,
          calculable: false, precision: 1, orient: "horizontal", right: 24, bottom: 26,
          itemHeight: 160, text: ["2+ critical", "0"],
          inRange: { color: ["#f7fbff", "#fee090", "#d73027"] }
        },
        series: [{
          type: "custom", renderItem: renderItem, data: cells,
          encode: { x: [0, 3], y: 1, tooltip: 2 }
        }]
      }
    };
  }

  function intervalOption(data) {
    var cats = data.categories;
    var bars = [];
    var dots = [];
    data.series.forEach(function (s) {
      s.data.forEach(function (row, i) {
        if (row[0] !== null) { dots.push([row[0] * 100, i]); }
        if (row[1] !== null && row[2] !== null) { bars.push([i, row[1] * 100, row[2] * 100]); }
      });
    });
    function renderItem(params, api) {
      var low = api.coord([api.value(1), api.value(0)]);
      var high = api.coord([api.value(2), api.value(0)]);
      var h = api.size([0, 1])[1] * 0.25;
      var style = { stroke: "#34495e", lineWidth: 2 };
      return {
        type: "group",
        children: [
          { type: "line", shape: { x1: low[0], y1: low[1], x2: high[0], y2: high[1] }, style: style },
          { type: "line", shape: { x1: low[0], y1: low[1] - h, x2: low[0], y2: low[1] + h }, style: style },
          { type: "line", shape: { x1: high[0], y1: high[1] - h, x2: high[0], y2: high[1] + h }, style: style }
        ]
      };
    }
    return {
      animation: false,
      tooltip: { trigger: "item", valueFormatter: number },
      grid: { left: 200, right: 32, top: 24, bottom: 40 },
      xAxis: { type: "value", name: "% vs control", axisLabel: { formatter: number } },
      yAxis: { type: "category", data: cats },
      series: [
        { type: "custom", name: "interval", renderItem: renderItem, encode: { x: [1, 2], y: 0 }, data: bars },
        {
          type: "scatter", name: "estimate", data: dots, symbolSize: 10,
          markLine: { symbol: "none", silent: true, label: { show: false },
                      lineStyle: { color: "#888" }, data: [{ xAxis: 0 }] }
        }
      ]
    };
  }

  // The option to draw ``data`` with, and the height the chart needs (``base``, the
  // stylesheet's height, at least).
  function option(data, chart, width, base) {
    if (data.kind === "heatmap") { return heatmapOption(data, width, base); }
    if (data.kind === "interval") { return { height: base, option: intervalOption(data) }; }
    return lineOption(data, chart, width, base);
  }

  // The charts of a page span one range: each request of one drawing names the same
  // end, the collector's time now (its clock at the page's load, in the header, plus the
  // time since), so no chart's axis ends a few milliseconds after another's.
  var loadedAt = Date.now();

  function collectorNow() {
    var clock = document.querySelector("time[data-ts]");
    var ts = clock ? parseFloat(clock.getAttribute("data-ts")) : NaN;
    return isFinite(ts) ? ts * 1000 + (Date.now() - loadedAt) : Date.now();
  }

  function withEnd(src, end) {
    return src + (src.indexOf("?") >= 0 ? "&" : "?") + "end=" + (end / 1000).toFixed(3);
  }

  function draw(el, end) {
    var src = withEnd(el.getAttribute("data-src"), end);
    el.setAttribute("data-rendered", "loading");
    return fetch(src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/login?next=" +
            encodeURIComponent(window.location.pathname + window.location.search));
          throw new Error("the session ended: log in again");
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (!data.points) { showMessage(el, "empty", NO_DATA); return; }
        if (!window.echarts) {
          showMessage(el, "unavailable", "charts need ECharts: run make (npm ci --prefix web)");
          return;
        }
        var chart = instances.get(el);
        if (!el.hasAttribute("data-base-height")) {
          el.setAttribute("data-base-height", String(el.clientHeight || 300));
        }
        var base = parseInt(el.getAttribute("data-base-height"), 10) || 300;
        var drawn = option(data, chart, el.clientWidth || 400, base);
        var height = drawn.height > base ? Math.round(drawn.height) + "px" : "";
        var resized = el.style.height !== height;
        el.style.height = height;
        if (!chart) {
          el.textContent = "";
          // SVG: the axis labels are text in the page (readable, and measurable by the
          // browser tests); no chart here draws more than a few thousand shapes.
          chart = window.echarts.init(el, null, { renderer: "svg" });
          instances.set(el, chart);
        } else if (resized) {
          chart.resize();
        }
        chart.setOption(drawn.option, true);
        el.setAttribute("data-points", String(data.points));
        el.setAttribute("data-rendered", "true");
      })
      .catch(function (err) { showMessage(el, "error", "could not load this chart: " + err.message); });
  }

  function drawAll() {
    var end = Math.round(collectorNow());
    document.querySelectorAll("div.chart[data-src]").forEach(function (el) { draw(el, end); });
  }

  function refreshAll() {
    drawAll();
    if (window.htmx) {
      document.querySelectorAll("[data-refresh]").forEach(function (el) {
        window.htmx.trigger(el, "refresh");
      });
    }
  }

  function wireRefresh() {
    var select = document.querySelector("select[data-refresh-select]");
    if (!select) { return; }
    var timer = null;
    function apply() {
      if (timer) { window.clearInterval(timer); timer = null; }
      var seconds = parseInt(select.value, 10) || 0;
      try { window.localStorage.setItem("mlpulse-refresh", String(seconds)); } catch (e) { /* private mode */ }
      if (seconds > 0) { timer = window.setInterval(refreshAll, seconds * 1000); }
    }
    try {
      var saved = window.localStorage.getItem("mlpulse-refresh");
      if (saved !== null) { select.value = saved; }
    } catch (e) { /* private mode */ }
    select.addEventListener("change", apply);
    apply();
  }

  function wireForms() {
    document.querySelectorAll("form[data-range-form] select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  function wireHtmx() {
    document.body.addEventListener("htmx:configRequest", function (event) {
      event.detail.headers["X-CSRF-Token"] = csrfToken();
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.successful) { flash(""); }
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      var xhr = event.detail.xhr;
      var text = "The collector answered " + xhr.status;
      try {
        var body = JSON.parse(xhr.responseText);
        if (body && body.error && body.error.message) { text += ": " + body.error.message; }
      } catch (e) { /* not JSON */ }
      flash(text);
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      var form = document.getElementById("silence");
      if (form && event.detail.target && event.detail.target.id === "silences") { form.reset(); }
    });
  }

  function start() {
    document.documentElement.classList.add("js");
    wireForms();
    wireHtmx();
    wireRefresh();
    drawAll();
    window.addEventListener("resize", function () {
      instances.forEach(function (chart) { chart.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

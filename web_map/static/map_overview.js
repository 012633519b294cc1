// Overview map: layers loaded from /api/v1/overview/layers for the area in view, only while
// they are switched on, so a county-sized jurisdiction never sends every rental house at once.
function gsEsc(s) {
  return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
  });
}

function gsTooltip(props, fields, W) {
  var rows = fields.map(function (f) {
    var v = f === "name" || f === "code" ? props[f] : f === "people" ? props.people : (props.details || {})[f];
    if (f === "people") {
      v = (v || []).map(function (p) {
        return gsEsc(W[p.role] || p.role) + " " + gsEsc(p.name) + " " + gsEsc(p.phone || "");
      }).join("<br>") || "—";
      return "<tr><th>" + gsEsc(W[f] || f) + "</th><td>" + v + "</td></tr>";
    }
    if (f === "name" && W[v]) v = W[v];
    if (typeof v === "string" && W[v]) v = W[v];
    return "<tr><th>" + gsEsc(W[f] || f) + "</th><td>" + gsEsc(v == null ? "—" : v) + "</td></tr>";
  });
  return '<table class="gs-tip">' + rows.join("") + "</table>";
}

function gsLazyLayer(map, o) {
  var W = o.words;
  var group = L.geoJson(null, {
    pointToLayer: function (f, latlng) {
      if (o.icon) {
        return L.marker(latlng, {
          icon: L.AwesomeMarkers.icon({ icon: o.icon, prefix: "fa", markerColor: "darkblue" }),
          bubblingMouseEvents: true,
        });
      }
      var status = (f.properties.details || {}).status;
      return L.circleMarker(latlng, {
        radius: o.radius || 5, color: "#333", weight: 1, fill: true, fillOpacity: 0.9,
        fillColor: (o.colours && o.colours[status]) || o.colour || "#777",
      });
    },
    style: function () { return o.style || {}; },
    onEachFeature: function (f, layer) {
      layer.bindTooltip(gsTooltip(f.properties, o.fields, W), { sticky: true });
    },
  });
  var note = document.getElementById("gs-lazy-note");
  var pending = null;
  function load() {
    if (!map.hasLayer(group)) return;
    var b = map.getBounds();
    var box = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (x) {
      return x.toFixed(5);
    }).join(",");
    var token = {};
    pending = token;
    fetch(o.url + "&bbox=" + box).then(function (r) { return r.json(); }).then(function (data) {
      if (pending !== token) return;
      var fc = data[o.layer];
      group.clearLayers();
      group.addData(fc);
      if (note) {
        var id = "gs-lazy-" + o.layer, line = document.getElementById(id);
        if (!line) { line = document.createElement("div"); line.id = id; note.appendChild(line); }
        line.textContent = fc.truncated ? o.name + ": " + fc.features.length + " / " + fc.total +
          " — " + W.zoom_in : "";
      }
    });
  }
  group.on("add", load);
  group.on("remove", function () {
    var line = document.getElementById("gs-lazy-" + o.layer);
    if (line) line.textContent = "";
  });
  map.on("moveend", load);
  return group;
}

// H3 hexagon map: cells coloured by incidents in the window or by change against the previous
// period of the same length, switched by a small control. Cells arrive as compact arrays
// [incidents, previous, lat0, lon0, lat1, lon1, ...] to keep the page small.
function gsHexagons(map, cells, opts) {
  function countColour(n) {
    for (var i = 0; i < opts.bounds.length; i++) if (n <= opts.bounds[i]) return opts.colours[i];
    return opts.colours[opts.colours.length - 1];
  }
  function changeColour(d) {
    return d > 0 ? opts.change.more : d < 0 ? opts.change.fewer : opts.change.same;
  }
  var mode = "count";
  var group = L.featureGroup();
  cells.forEach(function (c) {
    var ring = [];
    for (var i = 2; i < c.length; i += 2) ring.push([c[i], c[i + 1]]);
    var poly = L.polygon(ring, { color: "#666", weight: 0.5, fillOpacity: 0.7 });
    poly.gsCell = c;
    var d = c[0] - c[1];
    poly.bindTooltip(opts.words.incidents + ": " + c[0] + "<br>" + opts.words.previous + ": " +
      c[1] + "<br>" + opts.words.change + ": " + (d > 0 ? "+" : "") + d, { sticky: true });
    group.addLayer(poly);
  });
  function restyle() {
    group.eachLayer(function (p) {
      var c = p.gsCell;
      if (mode === "count") {
        p.setStyle({ fillColor: c[0] ? countColour(c[0]) : "#ffffff", fillOpacity: c[0] ? 0.7 : 0.15 });
      } else {
        p.setStyle({ fillColor: changeColour(c[0] - c[1]), fillOpacity: 0.7 });
      }
    });
  }
  restyle();
  var control = L.control({ position: "topright" });
  control.onAdd = function () {
    var div = L.DomUtil.create("div", "gs-panel gs-hex-mode leaflet-control");
    div.style.position = "static";
    div.innerHTML = ["count", "change"].map(function (m) {
      return '<label><input type="radio" name="gs-hex-mode" value="' + m + '"' +
        (m === mode ? " checked" : "") + "> " + opts.words[m + "_mode"] + "</label>";
    }).join("<br>");
    L.DomEvent.disableClickPropagation(div);
    div.addEventListener("change", function (e) { mode = e.target.value; restyle(); });
    return div;
  };
  control.addTo(map);
  return group;
}

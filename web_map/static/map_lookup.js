// Overview map: clicking anywhere asks /api/v1/lookup and shows whose the point is in a popup.
function gsLookupOnClick(map, W) {
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function answer(status, j) {
    if (status === 404 && j.nearest) {
      return "<b>" + esc(W.outside) + "</b><br>" + esc(W.nearest) + ": " + esc(j.nearest.name) +
        " (" + Math.round(j.nearest.distance_m) + " m)";
    }
    if (status !== 200) return esc(W.lookup_failed) + ": " + esc(j.detail || status);
    var beat = j.beat ? j.beat.code + " " + j.beat.name : "—";
    var plan = j.plan ? " (" + esc(W.plan) + " " + esc(j.plan.code) + ")" : "";
    var people = (j.people || []).map(function (p) {
      return esc(W[p.role] || p.role) + " " + esc(p.name) + " " + esc(p.phone || "");
    });
    return '<div class="gs-lookup"><b>' + esc(j.village.name) + "</b> · " + esc(j.grid.name) +
      "<br>" + esc(W.beats) + ": " + esc(beat) + plan + "<br>" + people.join("<br>") + "</div>";
  }
  map.on("click", function (e) {
    var lon = e.latlng.lng.toFixed(7), lat = e.latlng.lat.toFixed(7);
    var popup = L.popup({ maxWidth: 360 }).setLatLng(e.latlng).setContent("…").openOn(map);
    fetch("/api/v1/lookup?lon=" + lon + "&lat=" + lat)
      .then(function (r) { return r.json().then(function (j) { popup.setContent(answer(r.status, j)); }); })
      .catch(function (err) { popup.setContent(esc(W.lookup_failed) + ": " + esc(err)); });
  });
}

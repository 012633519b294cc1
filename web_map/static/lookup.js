// Landing page: ask "who covers this point" and show the answer as tables. No outside hosts.
"use strict";
const form = document.getElementById("lookup-form");
const out = document.getElementById("answer");
const words = JSON.parse(document.getElementById("words").textContent);

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
function table(rows, cols) {
  if (!rows.length) return `<p class="none">${esc(words.none)}</p>`;
  const head = cols.map((c) => `<th>${esc(words[c] || c)}</th>`).join("");
  const cell = (r, c) =>
    c === "phone" && r[c] ? `<a href="tel:${esc(r[c])}">${esc(r[c])}</a>` : esc(words[r[c]] || r[c]);
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td>${cell(r, c)}</td>`).join("")}</tr>`).join("");
  return `<table><tr>${head}</tr>${body}</table>`;
}
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const params = new URLSearchParams(new FormData(form));
  for (const [k, v] of [...params]) if (!v) params.delete(k);
  out.textContent = "…";
  const reply = await fetch(`/api/v1/lookup?${params}`);
  const data = await reply.json();
  if (!reply.ok) {
    out.innerHTML = `<p class="error">${esc(data.detail)}</p>`;
    return;
  }
  const area = (a) => (a ? `${esc(a.name)} <code>${esc(a.code)}</code>` : "—");
  out.innerHTML = `
    <dl>
      <dt>${esc(words.village)}</dt><dd>${area(data.village)}</dd>
      <dt>${esc(words.grid)}</dt><dd>${area(data.grid)}</dd>
      <dt>${esc(words.beat)}</dt><dd>${area(data.beat)} ${data.plan ? `(${esc(words.plan)} ${esc(data.plan.code)})` : ""}</dd>
    </dl>
    <h3>${esc(words.people)}</h3>${table(data.people, ["role", "name", "phone"])}
    <h3>${esc(words.cameras)}</h3>${table(data.cameras, ["code", "name", "status", "distance_m"])}
    <h3>${esc(words.rescue_markers)}</h3>${table(data.rescue_markers, ["code", "kind", "water_body", "distance_m"])}
    <h3>${esc(words.water_bodies)}</h3>${table(data.water_bodies, ["name", "kind", "distance_m"])}`;
});

// A link like /?lon=120.36&lat=29.84 answers at once (shareable from the command room).
const given = new URLSearchParams(location.search);
if (given.get("lon") && given.get("lat")) {
  for (const name of ["lon", "lat", "crs", "at"]) {
    if (given.get(name)) form.elements[name].value = given.get(name);
  }
  form.requestSubmit();
}

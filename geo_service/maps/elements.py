"""Page elements every map draws with: verbatim HTML, data written once, panels, scripts.

- ``add_html(m, html)`` / ``Verbatim(text)`` — trusted HTML put in the page as it is. Prefer
  these to ``folium.Element(text)``, which compiles its text as a Jinja template (slow on large
  text, and it would evaluate ``{{ }}`` found in data).
- ``DataInPage`` — mixin for a ``folium.map.Layer`` subclass with large data in
  ``self.data_json``: it is written verbatim as ``var <name>_data`` before the layer's script.
  ``RawGeoJson(json_text, name=, style=, tooltip_field=None, pane=None, show=True)`` is one.
- ``add_title(m, title, note="", links="")``, ``add_legend(m, title, rows)`` with rows
  ``[(css_colour, label), ...]`` — fixed panels in the page, escaped (``links`` is trusted HTML).
- ``lang_links(lang, path, query)`` — a link home and to the same page in the other language.
- ``add_header(m, element, name=)`` — a script or style sheet link in the page head.
- ``add_script(m, code)`` — JavaScript run once the map exists; ``{map}`` names the Leaflet map.
- ``finish(m)`` — adds the layer control; call once, last.
"""

from __future__ import annotations

import html
from typing import Any, cast
from urllib.parse import urlencode

import folium
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from folium.template import Template
from jinja2 import Template as JinjaTemplate

from geo_service.maps.words import Lang, words


class Verbatim(Element):
    """Text put into the page as it is: never parsed as a template (folium's ``Element(text)``
    compiles its text with Jinja, which is slow for large data and would run ``{{ }}`` in it)."""

    _template = JinjaTemplate("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Verbatim"
        self.text = text


def add_html(m: folium.Map, text: str) -> None:
    """Add trusted HTML to the page body, verbatim."""
    cast(Figure, m.get_root()).html.add_child(Verbatim(text))


def add_header(m: folium.Map, element: Element, *, name: str) -> None:
    """Add an element (a script or style sheet link, a meta tag) to the page head, once by name."""
    cast(Figure, m.get_root()).header.add_child(element, name=name)


class DataInPage:
    """Mixin for a layer with large data: ``self.data_json`` goes into the page verbatim as
    ``var <name>_data`` just before the layer's own (small) script."""

    data_json: str

    def render(self, **kwargs: Any) -> str:
        """Add the data variable, then render as usual."""
        name = self.get_name()  # type: ignore[attr-defined]
        data = self.data_json.replace("</", "<\\/")  # never ends the <script>
        self.get_root().script.add_child(  # type: ignore[attr-defined]
            Verbatim(f"var {name}_data = {data};"), name=f"{name}_data"
        )
        return cast(str, super().render(**kwargs))  # type: ignore[misc]


class RawGeoJson(DataInPage, Layer):
    """A GeoJSON layer from ready JSON text, one style for all features and an optional
    tooltip: one property (``tooltip_field``) or a table of several (``tooltip_fields``,
    ``{property: label}``); no per-feature work in Python (the basemap can be large)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = L.geoJson({{ this.get_name() }}_data,"
        " {{ this.options|tojson }});"
        "{{ this.get_name() }}.setStyle({{ this.style|tojson }});"
        "{% if this.tooltip_field %}{{ this.get_name() }}.bindTooltip(function (l) {"
        " return String(l.feature.properties[{{ this.tooltip_field|tojson }}] || ''); },"
        " {sticky: true});{% endif %}"
        "{% if this.tooltip_fields %}{{ this.get_name() }}.bindTooltip(function (l) {"
        " var p = l.feature.properties, t = document.createElement('table');"
        " t.className = 'gs-tip';"
        " Object.entries({{ this.tooltip_fields|tojson }}).forEach(function (kv) {"
        " if (p[kv[0]] === undefined || p[kv[0]] === null) return;"
        " var r = t.insertRow(), h = document.createElement('th');"
        " h.textContent = kv[1]; r.appendChild(h); r.insertCell().textContent = String(p[kv[0]]);"
        " }); return t; }, {sticky: true});{% endif %}"
        "{% endmacro %}"
    )

    def __init__(
        self,
        data_json: str,
        *,
        name: str,
        style: dict[str, Any],
        tooltip_field: str | None = None,
        tooltip_fields: dict[str, str] | None = None,
        pane: str | None = None,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RawGeoJson"
        self.data_json = data_json
        self.style = style
        self.tooltip_field = tooltip_field
        self.tooltip_fields = tooltip_fields or {}
        self.options = {"pane": pane} if pane else {}


def add_title(m: folium.Map, title: str, note: str = "", links: str = "") -> None:
    """A title panel at the top: title and a note (escaped); ``links`` is trusted HTML."""
    body = f"<h1>{html.escape(title)}</h1>"
    if note:
        body += f'<div class="gs-note">{html.escape(note)}</div>'
    if links:
        body += f"<div>{links}</div>"
    add_html(m, f'<div class="gs-panel gs-title">{body}</div>')


def add_legend(m: folium.Map, title: str, rows: list[tuple[str, str]]) -> None:
    """A legend panel at the bottom left: rows of (CSS colour, label), escaped; colour "" is a
    plain line."""
    items = "".join(
        f'<div><i style="background:{html.escape(colour)}"></i>{html.escape(label)}</div>'
        if colour
        else f"<div>{html.escape(label)}</div>"
        for colour, label in rows
    )
    add_html(m, f'<div class="gs-panel gs-legend"><h2>{html.escape(title)}</h2>{items}</div>')


def lang_links(lang: Lang, path: str, query: list[tuple[str, str]]) -> str:
    """Links home and to the same page in the other language, keeping every other parameter
    of ``query`` (repeated ones included) as it was given."""
    w = words(lang)
    kept = [(k, v) for k, v in query if k != "lang"]
    if lang == "zh":
        kept.append(("lang", "en"))
    href = path + ("?" + urlencode(kept) if kept else "")
    home = "/?lang=en" if lang == "en" else "/"
    return (
        f'<a href="{html.escape(home)}">{html.escape(w["home"])}</a>'
        f'<a class="gs-other-lang" href="{html.escape(href)}">{html.escape(w["other_lang"])}</a>'
    )


class _Script(MacroElement):
    """A script run once the map exists (``{map}`` is the Leaflet map variable)."""

    _template = Template(
        "{% macro script(this, kwargs) %}{{ this.code.replace('{map}', this._parent.get_name()) }}"
        "{% endmacro %}"
    )

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "Script"
        self.code = code


def add_script(m: folium.Map, code: str) -> None:
    """Run JavaScript after the map is built; ``{map}`` in ``code`` names the Leaflet map."""
    _Script(code).add_to(m)


def finish(m: folium.Map) -> folium.Map:
    """Add the layer control; call once after all layers."""
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m

"""Maps built with Folium, every asset served by the app: one module per map, drawing with
``words`` (zh/en), ``elements`` (panels, scripts, data in the page), ``basemap`` (the empty map
and the jurisdiction's basemap), ``render`` (the HTML page) and ``assets`` (CDN → local)."""

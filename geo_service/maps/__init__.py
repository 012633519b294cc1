"""Maps built with Folium, every asset served by the app (see ``base`` for the interface)."""

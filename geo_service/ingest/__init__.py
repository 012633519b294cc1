"""Importers of boundary, asset and event data, and the loader of jurisdiction GeoPackages."""

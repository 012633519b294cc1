"""Importers of boundary, asset and event data, and the sample generator."""

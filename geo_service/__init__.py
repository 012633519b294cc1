"""Grid-and-beat map service: the station's villages, grids, beats and who covers each point."""

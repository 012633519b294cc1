"""Deterministic sample jurisdiction: real village names and codes, synthetic everything else.

Each stage draws from its own random generator and adds to one World (world.py): the
jurisdiction with its villages and grids, roads, water, places, rentals, cameras, water markers,
incidents, beats, people and position fixes, the command room's timelines and the
field's history; gpkg.py writes them as one GeoPackage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from geo_service.sample.command import build_command, command_layers
from geo_service.sample.events import build_fixes, build_incidents, caller_phones
from geo_service.sample.field import build_field
from geo_service.sample.gpkg import assemble_layers, metadata_table, write_gpkg
from geo_service.sample.jurisdiction import REFERENCE_DIR, build_jurisdiction
from geo_service.sample.people import build_beats, build_people, police_work_points
from geo_service.sample.places import build_cameras, build_places, build_rentals
from geo_service.sample.roads import build_roads, build_tracks, node_roads
from geo_service.sample.water import build_markers, build_water
from geo_service.sample.world import PARAMS, Frame, Scale, stage_rng

__all__ = ["REFERENCE_DIR", "Scale", "generate_sample"]

_STAGES = (
    "jurisdiction",
    "roads",
    "water",
    "places",
    "rentals",
    "cameras",
    "markers",
    "incidents",
    "beats",
    "people",
    "fixes",
    "command",
    "field",
    "write",
)


def generate_sample(
    out_dir: Path, *, seed: int = 1, scale: Scale = "small", progress: bool = False
) -> Path:
    """Write the sample jurisdiction as one GeoPackage in out_dir and return its path.

    The file is ``fengqiao_{scale}_seed{seed}.gpkg``; an existing file is replaced. The same seed
    and scale give the same content. Village names and codes and the county outline are real
    (see data/boundaries/PROVENANCE.md); all geometry inside, all people and events are synthetic.
    """
    if scale not in PARAMS:
        raise ValueError(f"scale must be 'small' or 'large', not {scale!r}")
    params = PARAMS[scale]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"fengqiao_{scale}_seed{seed}.gpkg"
    frame = Frame()
    bar = tqdm(total=len(_STAGES), desc=f"sample {scale}", disable=not progress)

    def stage(name: str) -> np.random.Generator:
        bar.set_postfix_str(name)
        return stage_rng(seed, name)

    try:
        world = build_jurisdiction(stage("jurisdiction"), frame, params, scale)
        bar.update()
        world.roads = build_roads(stage("roads"), world, scale)
        bar.update()
        world.water = build_water(stage("water"), world, params, scale)
        world.roads += build_tracks(stage_rng(seed, "tracks"), world)
        bar.update()
        world.places = build_places(stage("places"), world, params, scale)
        bar.update()
        rentals = build_rentals(stage("rentals"), world, params, scale)
        bar.update()
        cameras = build_cameras(stage("cameras"), world, params)
        bar.update()
        markers = build_markers(stage("markers"), world)
        bar.update()
        incidents = build_incidents(stage("incidents"), world, params, rentals, progress)
        bar.update()
        beats = build_beats(stage("beats"), world, params, incidents)
        world.places += police_work_points(world, beats)
        bar.update()
        people, assignments, officers = build_people(stage("people"), world, params, beats)
        bar.update()
        fixes = build_fixes(stage("fixes"), world, params, beats, officers)
        bar.update()
        command = build_command(stage("command"), world, beats, people, officers, incidents)
        incidents.columns["status"] = command.status  # as their timelines leave them
        # caller phones from a generator of their own: the stages above are drawn as before
        incidents.columns["caller_phone"] = caller_phones(stage_rng(seed, "callers"), incidents)
        bar.update()
        # the field's history; markers' and rentals' last inspections follow it
        field = build_field(stage("field"), world, assignments, markers, rentals)
        bar.update()
        # the road layer as a routable network (the stages above drew on the roads as drawn)
        world.roads = node_roads(world.roads)
        layers = assemble_layers(
            world, beats, people, assignments, rentals, cameras, markers, incidents, fixes
        )
        layers.update(command_layers(world, command, fixes))
        layers.update(field.layers())
        layers["metadata"] = metadata_table(seed, scale)
        bar.set_postfix_str("write")
        write_gpkg(path, layers, progress)
        bar.update()
    finally:
        bar.close()
    return path

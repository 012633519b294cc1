"""`python -m bench`: run the benchmarks (all, or --only one) with the shared options.

Every figure is printed as a ratio against a baseline measured in the same run, on the same
machine. Options (see bench/harness.py): --scale small|large, --only NAME, --seconds N (wrk
runs), --workers N (service processes, lookup), --points N (batch), --repeat N (timed runs).
With --only, a benchmark's own options follow (`python -m bench.NAME --help` lists them).
"""

from __future__ import annotations

import importlib
import sys

from bench.harness import parser

# name -> module; each has main(argv) taking the shared options
BENCHMARKS = {
    "lookup": "bench.lookup",  # lookup over HTTP vs /ping and /ping/db
    "batch": "bench.batch",  # a million points vs a shapely STRtree
    "coverage": "bench.coverage",  # patrol coverage vs a bare distinct count (own database)
    "maps": "bench.maps",  # heatmap and hexagon pages vs a bare GROUP BY
    "import": "bench.imports",  # the large sample's grids vs ogr2ogr
    "ogc": "bench.ogc",  # OGC API items vs tipg
    "intake": "bench.intake",  # POST /api/v1/incidents vs /ping/db (issue 12)
    "stream": "bench.stream",  # POST to event at 200 SSE clients (issue 12)
    "recommend": "bench.recommend",  # recommended units vs pgr_dijkstraCost (issue 12)
    "kpis": "bench.kpis",  # the station's numbers vs a bare scan of their rows (issue 12)
    "balance": "bench.balance",  # rebalance vs gerrychain ReCom (issue 13)
    "publish": "bench.publish",  # a plan's publication vs restamp_events (issue 13)
    "me": "bench.me",  # /api/v1/me vs a bare count of the due items (issue 14)
    "inspection": "bench.inspection",  # an inspection with a photo vs a bare INSERT (issue 14)
}


def main(argv: list[str] | None = None) -> None:
    """Parse the shared options and --only, and run the chosen benchmarks in turn with the
    options given (each benchmark keeps its own defaults for the others)."""
    p = parser(__doc__, defaults=False)
    p.prog = "python -m bench"
    p.add_argument("--only", choices=list(BENCHMARKS), help="run only this benchmark")
    args, own = p.parse_known_args(argv)  # own: options of one benchmark (--runs, --rounds...)
    if own and "only" not in args:
        p.error(f"{' '.join(own)}: a benchmark's own options need --only NAME")
    given = vars(args)
    only = given.pop("only", None)
    given.setdefault("scale", "small")  # every benchmark on the same sample (maps: large alone)
    shared = [part for key, value in given.items() for part in (f"--{key}", str(value))]
    for name in [only] if only else list(BENCHMARKS):
        print(f"\n# {name}", flush=True)
        importlib.import_module(BENCHMARKS[name]).main([*shared, *own])
        sys.stdout.flush()


if __name__ == "__main__":
    main()

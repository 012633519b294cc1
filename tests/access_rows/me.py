"""The access table's rows of the phone page "my area" (issue 14): /api/v1/me and its map for
the people of an area (grid worker, community officer, volunteer); the page's manifest, service
worker and icons are public (a browser fetches the manifest without credentials; none of them
holds anything of a user)."""

from __future__ import annotations

from collections.abc import Callable

from tests.access_calls import Ask, Call, get

# route                                          ldr cmd pln co  gw  vol dep aud adm
TABLE = """
GET    /api/v1/me                                -   -   -   y   y   y   -   -   -
GET    /api/v1/me/map                            -   -   -   y   y   y   -   -   -
GET    /me                                       -   -   -   y   y   y   -   -   -
GET    /manifest.webmanifest                     public
GET    /sw.js                                    public
GET    /me/icons/{size}.png                      public
GET    /favicon.ico                              public
"""

CALLS: dict[str, Callable[[Ask], Call]] = {
    "GET /api/v1/me": get("/api/v1/me"),
    "GET /api/v1/me/map": get("/api/v1/me/map"),
    "GET /me": get("/me"),
    "GET /manifest.webmanifest": get("/manifest.webmanifest"),
    "GET /sw.js": get("/sw.js"),
    "GET /me/icons/{size}.png": get("/me/icons/192.png"),
    "GET /favicon.ico": get("/favicon.ico"),
}

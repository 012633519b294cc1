"""The import report: one dataclass, as JSON for a program and as text for a person."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Finding kinds, in the order a person reads them.
REFUSAL = "refusal"
REPAIR = "repair"
SNAPPED = "snapped"
WARNING = "warning"


@dataclass
class Finding:
    """One thing the import found: a refusal, a repair, a snapped sliver or a warning.

    `rows` are 1-based feature numbers in the source (in a CSV, row 1 is the first line after
    the header); `location` is [lon, lat] (EPSG:4326) of a point inside the place concerned.
    """

    kind: str
    check: str
    message: str
    rows: list[int] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    area_m2: float | None = None
    location: list[float] | None = None


@dataclass
class ImportReport:
    """What an import read, converted, checked and changed (or why it was refused)."""

    layer: str
    source_file: str
    source_format: str = ""
    source_layer: str | None = None
    source_crs: str | None = None
    conversion: str | None = None
    mode: str = "replace"
    dry_run: bool = False
    strict: bool = False
    rows_read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    restamped_incidents: int = 0
    restamped_position_fixes: int = 0
    status: str = "pending"  # imported | dry-run | refused
    import_id: int | None = None
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: str, check: str, message: str, **details: Any) -> Finding:
        """Record a finding and return it."""
        finding = Finding(kind, check, message, **details)
        self.findings.append(finding)
        return finding

    def of_kind(self, kind: str) -> list[Finding]:
        """The findings of one kind, in the order found."""
        return [f for f in self.findings if f.kind == kind]

    @property
    def refused(self) -> bool:
        """True when anything was refused: the import then changes nothing."""
        return any(f.kind == REFUSAL for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data, the same for the CLI (--json) and the API."""
        data = asdict(self)
        data["counts"] = {
            k: data.pop(k)
            for k in (
                "rows_read",
                "added",
                "updated",
                "unchanged",
                "removed",
                "restamped_incidents",
                "restamped_position_fixes",
            )
        }
        findings = data.pop("findings")
        for kind, key in (
            (REFUSAL, "refusals"),
            (REPAIR, "repairs"),
            (SNAPPED, "snapped"),
            (WARNING, "warnings"),
        ):
            data[key] = [
                {k: v for k, v in f.items() if k != "kind" and v not in (None, [])}
                for f in findings
                if f["kind"] == kind
            ]
        return data


def report_text(data: dict[str, Any]) -> str:
    """The report (as from ImportReport.to_dict) written for a person."""
    counts = data["counts"]
    source = data["source_file"] + (
        f" (layer {data['source_layer']})" if data["source_layer"] else ""
    )
    lines = [
        f"{data['status'].upper()}: {data['layer']} from {source}, {data['source_format']}",
        f"  CRS {data['source_crs'] or 'none'}"
        + (f"; converted {data['conversion']}" if data["conversion"] else "; stored as read"),
        f"  {counts['rows_read']} rows read: {counts['added']} added, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['removed']} removed ({data['mode']})",
    ]
    if counts["restamped_incidents"] or counts["restamped_position_fixes"]:
        lines.append(
            f"  re-stamped {counts['restamped_incidents']} incidents and "
            f"{counts['restamped_position_fixes']} position fixes"
        )
    if data.get("import_id"):
        lines.append(f"  recorded as import {data['import_id']}")
    for key, title in (
        ("refusals", "Refused"),
        ("repairs", "Repaired"),
        ("snapped", "Snapped"),
        ("warnings", "Warnings"),
    ):
        items = data.get(key) or []
        if not items:
            continue
        lines.append(f"{title} ({len(items)}):")
        for item in items[:50]:
            lines.append(f"  - {_finding_line(item)}")
        if len(items) > 50:
            lines.append(f"  ... and {len(items) - 50} more (see --json)")
    return "\n".join(lines)


def _finding_line(item: dict[str, Any]) -> str:
    """One finding on one line: message, rows, area and location."""
    parts = [item["message"]]
    rows = item.get("rows") or []
    if rows and "row" not in item["message"]:
        shown = ", ".join(str(r) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
        parts.append(f"rows {shown}")
    if item.get("area_m2") is not None and "m²" not in item["message"]:
        parts.append(f"{item['area_m2']:.2f} m²")
    if item.get("location"):
        lon, lat = item["location"]
        parts.append(f"at {lon:.6f},{lat:.6f}")
    return "; ".join(parts)

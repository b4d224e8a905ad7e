"""The files of a co-registration, written the same way by the CLI, the workers and the demo."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io.atomic import write_json
from .coregister import Coregistration, warp_to_reference, write_tie_points
from .plot import plot_matches


@dataclass(frozen=True)
class CoregistrationFiles:
    """Where :func:`write_coregistration` put each output.

    Attributes:
        tie_points: the matches as points in the reference CRS (GeoPackage).
        matches: the two images side by side with the matches (PNG).
        report: the figures of the co-registration (``report.json``).
        warped: the query on the reference grid (Cloud-Optimized GeoTIFF);
            ``None`` when no transform was found.
    """

    tie_points: Path
    matches: Path
    report: Path
    warped: Path | None

    def as_dict(self) -> dict[str, str]:
        """Output name (file stem) → path, as job manifests list them."""
        paths = [self.tie_points, self.matches, self.report, self.warped]
        return {path.stem: str(path) for path in paths if path is not None}


def write_coregistration(
    result: Coregistration,
    folder: str | os.PathLike[str],
    *,
    truth: Any = None,
    title: str | None = None,
    progress: bool = False,
    provenance: Mapping[str, Any] | None = None,
) -> CoregistrationFiles:
    """Write the outputs of a co-registration into ``folder``, each atomically.

    ``tie_points.gpkg``, ``matches.png`` and ``report.json`` always (with no
    transform found, the tie points and the plot are what explains why);
    ``query_on_reference.tif`` when a transform was found.

    Args:
        result: the co-registration.
        folder: the output folder (created if needed).
        truth: the true reference → query warp (3×3), when known (synthetic
            pairs): the plot then shows which matches are correct.
        title: title of the plot.
        progress: show a progress bar while warping.
        provenance: more fields for ``report.json`` (e.g. the matcher's name
            and weights hash).

    Returns:
        The paths written.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files = CoregistrationFiles(
        tie_points=out / 'tie_points.gpkg',
        matches=out / 'matches.png',
        report=out / 'report.json',
        warped=None if result.transform is None else out / 'query_on_reference.tif',
    )
    write_tie_points(result, files.tie_points)
    plot_matches(
        result.reference.path,
        result.query.path,
        result.matches,
        files.matches,
        warp=truth,
        title=title,
    )
    if files.warped is not None:
        warp_to_reference(result, files.warped, progress=progress)
    write_json(files.report, result.report() | dict(provenance or {}))
    return files

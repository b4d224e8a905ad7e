"""Detect objects in a whole scene: tiled, batched, merged, in map coordinates."""

from __future__ import annotations

import functools
import operator
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from ..errors import EmptyInputError, InputError
from ..io.raster import RasterInfo, read_raster_info, tile_windows
from ..models.detector import CSTFDetector
from ..models.domain import InputFacts, warn_domain
from ..ops.boxes import canonicalize_cxcywhr, cxcywhr_to_xyxy
from ..ops.nms import concatenate_boxes, merge_boxes
from ..options import TilingOptions, options_or_keywords
from .detectors import LoadedDetector, resolve_detector
from .tiles import NO_VALID_PIXEL, Tile, TileReader

#: boxes closer than this (pixels) to a tile edge shared with a neighbour are
#: left to the neighbour, which sees the whole object
EDGE_MARGIN = 2.0


@dataclass(frozen=True, kw_only=True)
class DetectionProvenance:
    """Where detections come from.

    Attributes:
        acquisition_id: the acquisition's identifier (default the file stem).
        model_name: the detector's name.
        model_version: the package and weights version.
        nms_threshold: IoU threshold of the cross-tile merge.
        domain_warnings: why the scene lies outside the weights' domain
            (:func:`~torchgeo_cstf.models.domain.domain_mismatches`; empty when
            it fits or the domain is unknown).
        weights_sha256: the SHA-256 of the detector's weights file (``None``
            for a model given as an object).
    """

    acquisition_id: str
    model_name: str
    model_version: str
    nms_threshold: float
    domain_warnings: tuple[str, ...] = ()
    weights_sha256: str | None = None


@dataclass(frozen=True, kw_only=True)
class DetectionTimings:
    """What a detection pass processed, and how long each part took.

    Attributes:
        tiles: tiles planned.
        skipped: tiles skipped because they hold no valid pixel.
        seconds: wall time of the whole call.
        model_seconds: time spent in the detector (forward, decoding, NMS of
            each batch).
        load_seconds: time spent building the detector and loading its weights
            (zero when given a loaded model); the rest of ``seconds`` is the
            pipeline: reading, normalising, merging.
    """

    tiles: int
    skipped: int
    seconds: float
    model_seconds: float
    load_seconds: float

    @property
    def overhead(self) -> float:
        """Pipeline time (outside the model and its loading) over model time."""
        pipeline = self.seconds - self.load_seconds - self.model_seconds
        return pipeline / max(self.model_seconds, 1e-9)

    def __add__(self, other: DetectionTimings) -> DetectionTimings:
        """The timings of two parts of one scene, added field by field."""
        return DetectionTimings(
            **{
                item.name: getattr(self, item.name) + getattr(other, item.name)
                for item in fields(self)
            }
        )


@dataclass(frozen=True, kw_only=True)
class SceneDetections:
    """Objects found in a scene.

    Attributes:
        boxes: (N, 5) CXCYWHR boxes in scene pixels (float64).
        scores: (N,) scores in (0, 1], decreasing.
        labels: (N,) class indexes.
        class_names: one name per class index.
        info: the scene's header (CRS, transform, size).
        provenance: the acquisition, the model and its settings.
        timings: tiles processed and time spent.
    """

    boxes: Tensor
    scores: Tensor
    labels: Tensor
    class_names: list[str]
    info: RasterInfo
    provenance: DetectionProvenance
    timings: DetectionTimings

    def __len__(self) -> int:
        """Number of objects."""
        return len(self.scores)

    def above(self, threshold: float) -> SceneDetections:
        """The detections scoring at least ``threshold``."""
        keep = self.scores >= threshold
        return replace(
            self,
            boxes=self.boxes[keep],
            scores=self.scores[keep],
            labels=self.labels[keep],
        )

    def to_dict(self) -> dict[str, Any]:
        """Class names, provenance and timings as JSON values (no tensors, no header).

        The job workers send this with the chunks of a large scene (the boxes
        travel in a file); :meth:`from_dict` rebuilds the detections.
        """
        provenance = asdict(self.provenance)
        provenance['domain_warnings'] = list(self.provenance.domain_warnings)
        return {
            'class_names': list(self.class_names),
            'provenance': provenance,
            'timings': asdict(self.timings),
        }

    @classmethod
    def from_dict(
        cls,
        record: Mapping[str, Any],
        *,
        boxes: Tensor,
        scores: Tensor,
        labels: Tensor,
        info: RasterInfo,
    ) -> SceneDetections:
        """Detections from :meth:`to_dict`'s record (extra keys are ignored).

        Args:
            record: the record.
            boxes: (N, 5) CXCYWHR boxes in scene pixels.
            scores: (N,) scores.
            labels: (N,) class indexes.
            info: the scene's header.

        Returns:
            The detections.
        """
        provenance = dict(record['provenance'])
        provenance['domain_warnings'] = tuple(provenance.get('domain_warnings', ()))
        return cls(
            boxes=boxes,
            scores=scores,
            labels=labels,
            info=info,
            class_names=list(record['class_names']),
            provenance=DetectionProvenance(**provenance),
            timings=DetectionTimings(**record['timings']),
        )

    def counts(self) -> dict[str, int]:
        """Objects per class name."""
        return {
            name: int((self.labels == index).sum())
            for index, name in enumerate(self.class_names)
        }


def _batches(tiles: Iterator[Tile], size: int) -> Iterator[list[Tile]]:
    batch: list[Tile] = []
    for tile in tiles:
        batch.append(tile)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _keep_in_tile(boxes: Tensor, tile: Tile, width: int, height: int) -> Tensor:
    """Boxes whose centre has data and that no inner tile edge cuts."""
    window = tile.window
    size = float(window.width)
    xyxy = cxcywhr_to_xyxy(boxes)
    keep = torch.ones(len(boxes), dtype=torch.bool)
    if window.col_off > 0:
        keep &= xyxy[:, 0] >= EDGE_MARGIN
    if window.row_off > 0:
        keep &= xyxy[:, 1] >= EDGE_MARGIN
    if window.col_off + window.width < width:
        keep &= xyxy[:, 2] <= size - EDGE_MARGIN
    if window.row_off + window.height < height:
        keep &= xyxy[:, 3] <= size - EDGE_MARGIN
    col = boxes[:, 0].long().clamp(0, tile.valid.shape[1] - 1)
    row = boxes[:, 1].long().clamp(0, tile.valid.shape[0] - 1)
    keep &= torch.from_numpy(tile.valid)[row, col]
    return keep


def detect_scene(
    raster: str | os.PathLike[str],
    model: CSTFDetector | LoadedDetector | str | os.PathLike[str] = (
        'cstf_detector_regnetx_002'
    ),
    options: TilingOptions | None = None,
    *,
    device: str | torch.device = 'cpu',
    reference: str | os.PathLike[str] | None = None,
    acquisition_id: str | None = None,
    progress: bool = False,
    on_tiles: Callable[[int, int], None] | None = None,
    **keywords: Any,
) -> SceneDetections:
    """Detect oriented objects in a GeoTIFF of any size, band count and dtype.

    The scene is read in tiles (:class:`~torchgeo_cstf.options.TilingOptions`:
    side, overlap, batch size, thresholds) on a background thread, so
    reading overlaps compute and memory does not grow with the scene. Pixels
    are normalised per scene (uint8 ÷ 255; other types by a 2–98 % per-band
    stretch measured on an overview) and fitted to the model's band count
    (one band repeated, or the first bands). Nodata pixels are zeroed, tiles
    without data are skipped and objects centred on nodata are dropped.

    Per tile, boxes cut by an edge shared with a neighbouring tile are left to
    that neighbour (``overlap`` must exceed the largest object), then all boxes
    are merged with class-wise rotated NMS. This is :func:`detect_tiles` on
    every tile followed by :func:`merge_detections`; the job workers run the
    same two steps with the tiles split across tasks, with identical results.

    Args:
        raster: the scene (a GeoTIFF with a CRS).
        model: the detector (see :func:`resolve_detector`).
        options: tiling and thresholds (default :class:`TilingOptions()
            <torchgeo_cstf.options.TilingOptions>`: 1024-pixel tiles
            overlapping by 200, the detector's operating threshold).
        device: where the model runs (``cpu``, ``cuda``, ``cuda:1``).
        reference: a co-registered earlier acquisition on the same grid; the
            detector then uses temporal fusion.
        acquisition_id: identifier written with each object (default the
            file stem).
        progress: show a progress bar (tiles/s) on stderr.
        on_tiles: called with (tiles done, tiles planned) after each batch.
        **keywords: deprecated: the :class:`TilingOptions` fields as keywords
            (``tile=512``); they go in the next release.

    Returns:
        The merged detections and timing figures.

    Raises:
        InputError: bad arguments, or an unusable raster or reference.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from torchgeo_cstf.synthetic import generate_scene
        >>> from torchgeo_cstf.inference import detect_scene
        >>> from torchgeo_cstf.options import TilingOptions
        >>> scene = Path(tempfile.mkdtemp()) / 'scene.tif'
        >>> _ = generate_scene(scene, (512, 512), seed=0)
        >>> found = detect_scene(scene, options=TilingOptions(tile=256, overlap=64))
        >>> found.timings.tiles, found.boxes.shape[1], found.info.crs.to_epsg()
        (9, 5, 32633)
    """
    start = time.perf_counter()
    options = options_or_keywords(TilingOptions, options, keywords, 'detect_scene')
    found = detect_tiles(
        raster,
        model,
        options,
        device=device,
        reference=reference,
        acquisition_id=acquisition_id,
        progress=progress,
        on_tiles=on_tiles,
    )
    merged = merge_detections([found])
    return replace(
        merged, timings=replace(merged.timings, seconds=time.perf_counter() - start)
    )


def count_tiles(
    raster: str | os.PathLike[str], options: TilingOptions | None = None
) -> int:
    """Tiles :func:`detect_scene` plans for a scene (reads the header only)."""
    options = options or TilingOptions()
    info = read_raster_info(raster)
    return sum(
        1 for _ in tile_windows(info.height, info.width, options.tile, options.overlap)
    )


def detect_tiles(
    raster: str | os.PathLike[str],
    model: CSTFDetector | LoadedDetector | str | os.PathLike[str],
    options: TilingOptions | None = None,
    *,
    tiles: Sequence[int] | None = None,
    device: str | torch.device = 'cpu',
    reference: str | os.PathLike[str] | None = None,
    acquisition_id: str | None = None,
    progress: bool = False,
    on_tiles: Callable[[int, int], None] | None = None,
) -> SceneDetections:
    """Detect objects in some tiles of a scene, without the cross-tile merge.

    Arguments are those of :func:`detect_scene`, plus ``tiles``: indexes of
    the tiles to process in the row-major plan (default all). The boxes are
    in scene pixels, filtered by the tile-edge rule but not yet merged: pass
    the results of all parts of a scene to :func:`merge_detections`.

    Returns:
        The unmerged detections of these tiles (``tiles`` counts them).
    """
    options = options or TilingOptions()
    start = time.perf_counter()
    loaded = resolve_detector(model)
    detector = loaded.model.to(device)
    if options.tile % detector.size_multiple:
        raise InputError(
            'tile',
            f'must be a multiple of {detector.size_multiple} for {loaded.name}, '
            f'got {options.tile}',
        )
    load_seconds = time.perf_counter() - start
    threshold = (
        loaded.score_threshold
        if options.score_threshold is None
        else options.score_threshold
    )
    reader = TileReader(
        raster,
        detector.in_channels,
        options.tile,
        options.overlap,
        options.read_ahead,
        reference,
        tiles,
        loaded.stretch,
        min_side=detector.size_multiple,
    )
    width, height = reader.info.width, reader.info.height
    mismatches: list[str] = []
    if loaded.domain is not None:
        mismatches = warn_domain(
            f'{loaded.name} {loaded.version}',
            loaded.domain,
            InputFacts.of_raster(reader.info),
        )
    found: list[tuple[Tensor, Tensor, Tensor]] = []
    model_seconds = 0.0
    processed = 0
    bar = tqdm(total=len(reader), unit='tile', disable=not progress, desc='detect')
    with torch.inference_mode():
        for batch in _batches(iter(reader), options.batch_size):
            images = torch.from_numpy(np.stack([t.pixels for t in batch])).to(device)
            past = None
            if reference is not None:
                past = torch.from_numpy(
                    np.stack([t.reference for t in batch])  # type: ignore[misc]
                ).to(device)
            tick = time.perf_counter()
            results = [
                {k: v.cpu().double() for k, v in r.items()}
                for r in detector.predict(images, past, threshold)
            ]
            model_seconds += time.perf_counter() - tick
            for item, result in zip(batch, results, strict=True):
                boxes = canonicalize_cxcywhr(result['boxes'])
                keep = _keep_in_tile(boxes, item, width, height)
                boxes = boxes[keep]
                boxes[:, 0] += item.window.col_off
                boxes[:, 1] += item.window.row_off
                found.append((boxes, result['scores'][keep], result['labels'][keep]))
            bar.update(len(batch))
            processed += len(batch)
            if on_tiles is not None:
                on_tiles(min(processed + reader.skipped, len(reader)), len(reader))
    bar.update(reader.skipped)
    bar.close()
    if on_tiles is not None:
        on_tiles(len(reader), len(reader))
    boxes, scores, labels = concatenate_boxes(found)
    return SceneDetections(
        boxes=boxes,
        scores=scores,
        labels=labels,
        class_names=loaded.class_names,
        info=reader.info,
        provenance=DetectionProvenance(
            acquisition_id=acquisition_id or Path(raster).stem,
            model_name=loaded.name,
            model_version=loaded.version,
            nms_threshold=detector.nms_threshold
            if options.nms_threshold is None
            else options.nms_threshold,
            domain_warnings=tuple(mismatches),
            weights_sha256=loaded.weights_sha256,
        ),
        timings=DetectionTimings(
            tiles=len(reader),
            skipped=reader.skipped,
            seconds=time.perf_counter() - start,
            model_seconds=model_seconds,
            load_seconds=load_seconds,
        ),
    )


def merge_detections(parts: Sequence[SceneDetections]) -> SceneDetections:
    """Merge the detections of parts of one scene with class-wise rotated NMS.

    Args:
        parts: results of :func:`detect_tiles` on disjoint tile sets of one
            scene (same model and settings).

    Returns:
        The merged detections by decreasing score; tiles, skipped tiles and
        seconds add up over the parts.

    Raises:
        InputError: no parts, or parts of different scenes or models.
        EmptyInputError: every tile of the scene was empty (nodata or NaN).
    """
    if not parts:
        raise InputError('parts', 'no detections to merge')
    first = parts[0]
    source = first.provenance
    for part in parts[1:]:
        if (
            part.info.path,
            part.provenance.model_name,
            part.provenance.model_version,
        ) != (first.info.path, source.model_name, source.model_version):
            raise InputError(
                'parts', 'come from different scenes or models; cannot merge them'
            )
    timings = functools.reduce(operator.add, (p.timings for p in parts))
    if timings.skipped == timings.tiles:
        raise EmptyInputError(first.info.path, NO_VALID_PIXEL)
    boxes, scores, labels = merge_boxes(
        [(p.boxes, p.scores, p.labels) for p in parts], source.nms_threshold
    )
    warnings = dict.fromkeys(w for p in parts for w in p.provenance.domain_warnings)
    return replace(
        first,
        boxes=boxes,
        scores=scores,
        labels=labels,
        provenance=replace(source, domain_warnings=tuple(warnings)),
        timings=timings,
    )

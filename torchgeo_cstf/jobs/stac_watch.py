"""Ingest from STAC: each new Item of a catalogue or API becomes one job.

A scan lists the Items (a static catalogue is walked; a STAC API is searched
with the collection, bbox and datetime window, sorted by datetime), oldest
first. Each Item not seen before is read by the rules of
:mod:`torchgeo_cstf.stac.ingest` (asset, href, CRS) and submitted: a pipeline
job co-registering it onto its reference — the given reference Item, else the
latest earlier Item of the same collection whose bbox covers its whole bbox,
else the latest covering its centre —
or, for the first acquisition of a place, a detection job. Items are
remembered by id, asset href and the asset's checksum or modification time in
a state file, so a restarted watcher submits nothing twice and an Item whose
file changed is taken again. An Item that cannot be read (no usable asset, a
href outside the allow-list, a CRS that disagrees with its file) is reported
once and recorded with its error code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac

from ..errors import CSTFError, InputError, InputNotFoundError
from ..io.raster import open_raster
from ..remote import is_remote
from ..stac.ingest import check_crs, resolve_href, select_asset
from .client import JobClient, JobHandle
from .spec import DetectionJob, DetectionParameters, PipelineJob, build, input_path
from .statefile import StateFile

#: the state file's name (in the output directory)
STATE_FILE = '.cstf-stac-watch.json'


def _stated_version(asset: pystac.Asset) -> str:
    """The version an asset's metadata states: a checksum, an update time, a size."""
    for key in ('file:checksum', 'checksum:multihash', 'updated', 'file:size'):
        if key in asset.extra_fields:
            return f'{key}={asset.extra_fields[key]}'
    return ''


def _version(asset: pystac.Asset, path: str) -> str:
    """What identifies an asset's content.

    Its stated version, else (a local file) its size and modification time,
    else nothing.
    """
    stated = _stated_version(asset)
    if stated or is_remote(path):
        return stated
    try:
        stat = Path(path).stat()
    except OSError:
        return ''  # a missing file is reported when the watcher opens it
    return f'size={stat.st_size},mtime_ns={stat.st_mtime_ns}'


def _versions(path: str, asset: pystac.Asset) -> dict[str, str]:
    """The version of a remote input, which its job id includes."""
    stated = _stated_version(asset)
    return {path: stated} if is_remote(path) and stated else {}


#: lengths of the dates that stand for a whole period: format and period
_PERIODS = {4: ('%Y', 'year'), 7: ('%Y-%m', 'month'), 10: ('%Y-%m-%d', 'day')}


def _period_end(start: dt.datetime, period: str) -> dt.datetime:
    """The last microsecond of the year, month or day that begins at ``start``."""
    if period == 'day':
        following = start + dt.timedelta(days=1)
    elif period == 'month':
        following = (start + dt.timedelta(days=32)).replace(day=1)
    else:
        following = start.replace(year=start.year + 1)
    return following - dt.timedelta(microseconds=1)


def _moment(text: str, end: bool) -> dt.datetime | None:
    """One bound of an interval (``..`` or empty: open).

    A year, a month or a date stands for its whole period: its start, or with
    ``end`` its end.
    """
    if text in ('', '..'):
        return None
    try:
        if len(text) in _PERIODS:
            pattern, period = _PERIODS[len(text)]
            start = dt.datetime.strptime(text, pattern).replace(tzinfo=dt.UTC)
            return _period_end(start, period) if end else start
        moment = dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise InputError(
            'datetime', f'{text!r} is not a date or an RFC 3339 date-time'
        ) from err
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_interval(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A STAC datetime filter as (start, end), either open (``None``).

    ``2024-05-01T00:00:00Z/..``, ``../2024-12-31``, ``2024-01-01/2024-12-31``
    (its last day included), ``2024-05`` (the whole month), one date-time.

    Raises:
        InputError: a bound that is not a date or an RFC 3339 date-time, or an
            interval that ends before it starts.
    """
    first, slash, last = text.partition('/')
    start = _moment(first, end=False)
    end = _moment(last if slash else first, end=True)
    if start is not None and end is not None and end < start:
        raise InputError('datetime', f'{text!r} ends before it starts')
    return start, end


def _coverage(earlier: pystac.Item, item: pystac.Item) -> int:
    """How an earlier Item's bbox covers an Item's: 2 whole, 1 its centre, 0 not."""
    if earlier.bbox is None or item.bbox is None:
        return 0
    west, south, east, north = earlier.bbox[:4]
    left, bottom, right, top = item.bbox[:4]
    if west <= left and right <= east and south <= bottom and top <= north:
        return 2
    x, y = (left + right) / 2, (bottom + top) / 2
    return int(west <= x <= east and south <= y <= north)


@dataclass
class StacWatcher:
    """Submits one job per new Item of a STAC catalogue or API.

    Args:
        source: a static catalogue (``catalog.json`` path or URL) or a STAC API
            root URL.
        output_dir: where the jobs write (and where the state file lives).
        client: the job client.
        collection: only Items of this collection.
        bbox: only Items intersecting (west, south, east, north) in degrees.
        datetime: only Items in this interval (``2024-01-01/2024-12-31``,
            ``2024-05-01T00:00:00Z/..``).
        reference: the href of the Item every acquisition is co-registered to
            (default: the latest earlier Item of the same collection covering
            it).
        asset: the asset key to read (default: see
            :func:`~torchgeo_cstf.stac.select_asset`).
        common_names: band common names the asset must carry.
        parameters: detection parameters of the jobs.
        options: co-registration options (``matcher``, ``registration``).
    """

    source: str
    output_dir: Path
    client: JobClient
    collection: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    datetime: str | None = None
    reference: str | None = None
    asset: str | None = None
    common_names: tuple[str, ...] = ()
    parameters: DetectionParameters = field(default_factory=DetectionParameters)
    options: dict[str, Any] = field(default_factory=dict)
    _state: StateFile = field(init=False)
    _window: tuple[dt.datetime | None, dt.datetime | None] = field(init=False)

    def __post_init__(self) -> None:
        """Check the source and prepare the output directory."""
        local = Path(self.source)
        if '://' not in self.source and not local.exists():
            raise InputNotFoundError(self.source, 'no such STAC catalogue')
        # a bad window fails here, not at each scan
        self._window = (
            (None, None) if self.datetime is None else parse_interval(self.datetime)
        )
        self.output_dir = Path(self.output_dir).resolve()
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._state = StateFile(self.state_path)

    @property
    def state_path(self) -> Path:
        """The state file: Item key → job id, or the error that kept it out."""
        return self.output_dir / STATE_FILE

    def state(self) -> Mapping[str, Any]:
        """What was done with each Item seen so far."""
        return self._state.read()

    def items(self) -> list[pystac.Item]:
        """The Items the filters keep, oldest first."""
        root = pystac.read_file(self.source)
        if isinstance(root, pystac.Catalog) and 'conformsTo' in root.extra_fields:
            found = self._search()
        elif isinstance(root, pystac.Catalog):
            found = list(root.get_items(recursive=True))
        else:
            raise InputNotFoundError(self.source, 'is not a STAC catalogue or API')
        kept = [item for item in found if self._keeps(item)]
        return sorted(kept, key=lambda item: (item.datetime is None, item.datetime))

    def _search(self) -> list[pystac.Item]:
        from pystac_client import Client

        search = Client.open(self.source).search(
            collections=[self.collection] if self.collection else None,
            bbox=self.bbox,
            datetime=self.datetime,
            sortby='properties.datetime',
        )
        return list(search.items())

    def _keeps(self, item: pystac.Item) -> bool:
        if self.collection is not None and item.collection_id != self.collection:
            return False
        if self.bbox is not None and item.bbox is not None:
            west, south, east, north = self.bbox
            if item.bbox[0] > east or item.bbox[2] < west:
                return False
            if item.bbox[1] > north or item.bbox[3] < south:
                return False
        start, end = self._window
        if item.datetime is not None:
            moment = item.datetime
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            if (start is not None and moment < start) or (
                end is not None and moment > end
            ):
                return False
        return True

    def _asset(self, item: pystac.Item) -> pystac.Asset:
        """The asset a job reads (the watcher's selection rule)."""
        _, asset = select_asset(item, asset=self.asset, common_names=self.common_names)
        return asset

    def _href(self, item: pystac.Item, asset: pystac.Asset) -> str:
        """The asset's path for a job: a local path or an allowed URL."""
        return resolve_href(
            asset.href,
            base=item.get_self_href(),
            allowed_prefixes=self.client.settings.allowed_url_prefixes,
        )

    def _check(self, item: pystac.Item, asset: pystac.Asset, path: str) -> None:
        """Open the asset (a remote one by its header) and check its CRS."""
        with open_raster(input_path(path), require_crs=False) as src:
            check_crs(item, asset, src.crs)

    def _job(
        self,
        item: pystac.Item,
        asset: pystac.Asset,
        path: str,
        reference: pystac.Item | None,
    ) -> DetectionJob | PipelineJob:
        """The Item's job: detection alone, or co-registration onto ``reference``."""
        versions = _versions(path, asset)
        common = {
            'output_dir': str(self.output_dir),
            'parameters': self.parameters,
            'source_item': item.get_self_href(),
        }
        if reference is None or reference.id == item.id:
            return build(DetectionJob, scene=path, input_versions=versions, **common)
        reference_asset = self._asset(reference)
        reference_path = self._href(reference, reference_asset)
        self._check(reference, reference_asset, reference_path)
        return build(
            PipelineJob,
            reference=reference_path,
            query=path,
            input_versions=versions | _versions(reference_path, reference_asset),
            **common,
            **self.options,
        )

    def _reference(
        self, item: pystac.Item, earlier: list[pystac.Item]
    ) -> pystac.Item | None:
        if self.reference is not None:
            try:
                return pystac.Item.from_file(self.reference)
            except Exception as err:  # pystac raises OSError, STACError, JSON errors
                raise InputNotFoundError(
                    self.reference, f'the reference Item cannot be read ({err})'
                ) from err
        # the latest earlier Item of the collection covering the whole
        # footprint, else the latest covering its centre (a partial overlap
        # is co-registered on the shared part)
        ranked = [
            (_coverage(other, item), order, other)
            for order, other in enumerate(earlier)
            if other.collection_id == item.collection_id
        ]
        covering = [entry for entry in ranked if entry[0] > 0]
        return max(covering, key=lambda entry: entry[:2])[2] if covering else None

    def scan(self) -> list[JobHandle]:
        """List the Items once; submit a job for each new one.

        An Item already submitted is recognised by its key (id, asset href and
        version) before its raster is opened: a scan reads only the new Items.

        Returns:
            The handles of the jobs submitted by this scan.
        """
        state = self._state.read()
        handles = []
        earlier: list[pystac.Item] = []
        for item in self.items():
            try:
                asset = self._asset(item)
                path = self._href(item, asset)
                key = f'{item.id}|{asset.href}|{_version(asset, path)}'
                if key in state:
                    earlier.append(item)
                    continue
                self._check(item, asset, path)
                job = self._job(item, asset, path, self._reference(item, earlier))
            except CSTFError as err:
                failed = f'{item.id}|{item.get_self_href()}'
                if failed not in state:
                    self._state.record(failed, {'error': err.code, 'message': str(err)})
                continue
            handle = self.client.submit(job)
            self._state.record(key, handle.id)
            handles.append(handle)
            earlier.append(item)
        return handles

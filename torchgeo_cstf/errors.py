"""One exception hierarchy for the whole package.

Every error a user can cause with a bad input is an :class:`InputError`. Each
error class has a stable machine-readable :attr:`~CSTFError.code` (used in job
results and CLI messages) and a message that names the offending input and the
problem with it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


class CSTFError(Exception):
    """Base class of all errors raised on purpose by torchgeo-cstf."""

    #: Stable machine-readable error code.
    code = 'CSTF_ERROR'
    #: The usual cause, for the troubleshooting guide (``cstf errors``).
    cause = (
        'An error raised on purpose by torchgeo-cstf that has no more specific code.'
    )
    #: The usual fix, for the troubleshooting guide.
    fix = 'Read the message; it names the input and the problem.'


class InputError(CSTFError, ValueError):
    """An input (file, argument, parameter) is unusable.

    Args:
        subject: what the input is (a path, a parameter name, …).
        problem: what is wrong with it, phrased for a person.
    """

    code = 'BAD_INPUT'
    cause = "An argument or parameter out of its range (a tile side that is not a multiple of the detector's stride, an overlap not below the tile, a threshold outside [0, 1], an unknown option)."
    fix = 'Change the value the message names; `cstf <command> --help` lists the ranges and defaults.'

    def __init__(self, subject: str | os.PathLike[str], problem: str) -> None:
        """Initialise the error; see the class docstring for arguments."""
        self.subject = os.fspath(subject)
        self.problem = problem
        super().__init__(f'{self.subject}: {problem}')

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        """Keep subject and problem when the error is pickled (multiprocessing)."""
        return (type(self), (self.subject, self.problem))


class InputNotFoundError(InputError, FileNotFoundError):
    """An input file or directory does not exist."""

    code = 'INPUT_NOT_FOUND'
    cause = 'A file or directory the call or job names does not exist (a typo, a relative path resolved from another directory, a dataset not downloaded, a volume not mounted in the worker).'
    fix = 'Check the path from where the code runs; for jobs, give absolute paths that the workers see at the same place (the same mount).'


class NotARasterError(InputError):
    """A file exists but GDAL cannot read it as a raster."""

    code = 'NOT_A_RASTER'
    cause = 'GDAL cannot open the file as a raster (not an image, an HTML error page saved as .tif, an unsupported format).'
    fix = 'Open it with `gdalinfo`; convert it to GeoTIFF (`gdal_translate`).'


class CorruptRasterError(InputError):
    """A raster opens but some of its pixels cannot be read (truncated, corrupt, undecodable)."""

    code = 'CORRUPT_RASTER'
    cause = 'The raster opens but some pixels cannot be read: a partial download (header intact, strips or tiles cut), an overwritten block, a compression codec GDAL lacks. The message names the failing block.'
    fix = 'Download or copy the file again and compare its size or checksum with the source; `gdalinfo -checksum` reads every block and fails on the broken one.'


class EmptyInputError(InputError):
    """An input holds nothing to work on (no valid pixel: all nodata or NaN)."""

    code = 'EMPTY_INPUT'
    cause = 'The input holds no valid pixel (all nodata, all NaN) — a broken delivery rather than an empty scene.'
    fix = "Check the acquisition's nodata value and its footprint; an empty layer is never written for such input, on purpose."


class NoCRSError(InputError):
    """A raster has no coordinate reference system where one is required."""

    code = 'NO_CRS'
    cause = 'A raster has no coordinate reference system where one is required (scene detection writes map coordinates; co-registration intersects footprints).'
    fix = 'Assign the CRS the data was produced in (`gdal_edit.py -a_srs EPSG:…`), or use `match` on pixel arrays.'


class CRSError(InputError):
    """A CRS cannot be parsed, or two CRSs cannot be reconciled."""

    code = 'BAD_CRS'
    cause = "A CRS cannot be parsed, or two rasters' CRSs cannot be reconciled (a footprint that does not reproject)."
    fix = 'Give the CRS as `EPSG:<code>` or WKT; check that both rasters carry the CRS they were produced in.'


class UnsupportedDtypeError(InputError):
    """A raster's data type is not one the package can normalise."""

    code = 'BAD_DTYPE'
    cause = "The raster's data type cannot be normalised (complex, or an integer type other than 8/16/32 bit)."
    fix = 'Convert to a real-valued type (`gdal_translate -ot Float32`, or the amplitude of complex SAR).'


class BandCountError(InputError):
    """A raster has a number of bands the operation cannot use."""

    code = 'BAD_BANDS'
    cause = 'The raster has a band count the operation cannot use.'
    fix = 'Select the bands the model expects (`gdal_translate -b 1 -b 2 -b 3`).'


class NoOverlapError(InputError):
    """Two rasters that must overlap (co-registration) do not."""

    code = 'NO_OVERLAP'
    cause = "Two rasters that must overlap (reference and query of a co-registration) do not, once the query's footprint is reprojected into the reference CRS."
    fix = 'Check that the pair shows the same ground and that both georeferences are right (a swapped axis order or a wrong CRS moves a footprint far away).'


class NoUsableAssetError(InputError):
    """A STAC Item has no asset this package can read as the acquisition."""

    code = 'NO_USABLE_ASSET'
    cause = (
        'The Item has no raster asset with the role `data` (or none with the bands '
        'asked for), or the asset named does not exist.'
    )
    fix = (
        'Name the asset (`asset=`), or ask for bands the Item has (their '
        '`eo:common_name`); `python -m pystac` or the catalogue browser shows its '
        'assets.'
    )


class NoTransformError(InputError):
    """Matching found no consistent transform between two rasters."""

    code = 'NO_TRANSFORM'
    cause = 'Matching found matches but no transform that enough of them agree on (very different modalities, large change between dates, little texture, clouds).'
    fix = 'Try `--method dense` or `cstf`, larger or more `--windows`, or a reference closer in date and modality; the tie points and `matches.png` show what was found.'


class ModelNotFoundError(InputNotFoundError):
    """A model name, weights name or checkpoint path names no usable model."""

    code = 'MODEL_NOT_FOUND'
    cause = 'A model name, weights name or checkpoint path names no usable model (a typo, a checkpoint of another kind, weights whose file fails its hash).'
    fix = '`cstf models` lists registered names and weights; give a checkpoint of the right task (a CSTFDetection checkpoint for detection).'


class PathNotAllowedError(InputError, PermissionError):
    """A job names a path outside the configured allowed roots."""

    code = 'PATH_NOT_ALLOWED'
    cause = 'A job names a path outside the allowed roots (after resolving links and `..`), a URL under no allowed prefix, or a URL scheme the workers do not read.'
    fix = 'Put the data under a root listed in `CSTF_ALLOWED_ROOTS`, or add its root there; for `http(s)://` and `s3://` inputs add their prefix to `CSTF_ALLOWED_URL_PREFIXES` (the same on clients, watchers and workers).'


class JobSpecError(InputError):
    """A job specification is malformed (missing field, wrong type, bad value)."""

    code = 'BAD_JOB_SPEC'
    cause = 'A job message is malformed: a missing field, an unknown key, a wrong type or a value out of range (the message says which field).'
    fix = (
        'Fix the field named; `cstf submit … --help` and the job guide list the fields.'
    )


class ConfigError(CSTFError, ValueError):
    """The job system's configuration (environment variables) is inconsistent."""

    code = 'BAD_CONFIG'
    cause = "The job system's environment variables are inconsistent (a malformed Redis URL, a non-numeric limit, a `workers` package that shadows ours)."
    fix = 'Fix the variable the message names; the operations guide lists every `CSTF_*` variable.'


class BrokerUnavailableError(CSTFError, ConnectionError):
    """Redis (broker or result backend) cannot be reached."""

    code = 'BROKER_UNAVAILABLE'
    cause = 'Redis (broker or result backend) cannot be reached from the client.'
    fix = 'Check `CSTF_BROKER_URL` / `CSTF_RESULT_BACKEND`, the password file and that Redis is up (`redis-cli ping`); queued jobs are not lost while it restarts (AOF).'


class JobCancelledError(CSTFError):
    """A job was cancelled while it ran."""

    code = 'CANCELLED'
    cause = 'The job was cancelled (`cstf cancel`, `JobHandle.cancel`) before or while it ran.'
    fix = 'Submit it again with `--force` if it is still wanted.'


class DomainWarning(UserWarning):
    """Weights run on imagery unlike what they were trained on (see ``models.domain``)."""


class OutputError(CSTFError, OSError):
    """An output could not be written (permissions, full disk, bad format)."""

    code = 'OUTPUT_ERROR'
    cause = 'An output could not be written (permissions, a full disk, an unknown format or extension).'
    fix = 'Check free space and write permission of the output directory; use `.gpkg` or `.geojson` for vectors.'


@dataclass(frozen=True)
class ErrorCode:
    """One entry of the troubleshooting guide.

    Attributes:
        code: the stable code (CLI messages, job manifests).
        meaning: what it means.
        cause: the usual cause.
        fix: the usual fix.
        exception: the exception class that carries it (``None`` for codes a
            worker gives to failures that are not CSTF errors).
    """

    code: str
    meaning: str
    cause: str
    fix: str
    exception: str | None = None


#: codes a worker gives to failures that are not :class:`CSTFError` s
IO_ERROR = ErrorCode(
    'IO_ERROR',
    'A transient I/O or connection error persisted after the retries.',
    'A network file system, object store or Redis that stayed unreachable for '
    'longer than the retries (CSTF_MAX_RETRIES, CSTF_RETRY_BACKOFF) wait.',
    'Check the storage and Redis the worker uses; submit the job again with '
    '`--force` once they are back.',
)
OUT_OF_MEMORY = ErrorCode(
    'OUT_OF_MEMORY',
    "The host's or the GPU's memory ran out while the job ran.",
    'A batch too large for the device, or other processes on the same GPU.',
    'Lower `--batch-size` (detection) or `--window` (co-registration); run '
    'one worker process per GPU (`cstf worker --concurrency 1`).',
)
TIME_LIMIT = ErrorCode(
    'TIME_LIMIT',
    'The job ran past the soft time limit and was stopped; the worker goes on.',
    'A scene too large for one task, a slow device, or a limit set too low.',
    'Raise CSTF_SOFT_TIME_LIMIT, or lower CSTF_CHUNK_TILES so large scenes fan '
    'out into more chunks.',
)
INCOMPLETE_CHUNKS = ErrorCode(
    'INCOMPLETE_CHUNKS',
    'Some chunks of a large scene have no result, so nothing partial is written.',
    'Chunk results expired or were lost (a result backend restarted without '
    'persistence, CSTF_RESULT_EXPIRES too short).',
    'Submit the job again with `--force`; keep Redis persistence (AOF) on.',
)
INTERNAL_ERROR = ErrorCode(
    'INTERNAL_ERROR',
    'An unexpected error: a bug, not a bad input.',
    'An exception the package did not foresee; the worker log has its traceback.',
    'Report it with the manifest and the worker log; the worker goes on.',
)
#: the worker-only codes, in the order of the guide
JOB_FAILURE_CODES: tuple[ErrorCode, ...] = (
    IO_ERROR,
    OUT_OF_MEMORY,
    TIME_LIMIT,
    INCOMPLETE_CHUNKS,
    INTERNAL_ERROR,
)


def error_codes() -> tuple[ErrorCode, ...]:
    """Every code the package gives: its exceptions' (by code), then the workers'."""
    found: dict[str, ErrorCode] = {}
    for value in vars(sys.modules[__name__]).values():
        if isinstance(value, type) and issubclass(value, CSTFError):
            meaning = (value.__doc__ or '').strip().splitlines()[0]
            found.setdefault(
                value.code,
                ErrorCode(value.code, meaning, value.cause, value.fix, value.__name__),
            )
    return (*sorted(found.values(), key=lambda e: e.code), *JOB_FAILURE_CODES)


def troubleshooting_markdown() -> str:
    """The troubleshooting guide's table of codes (what ``docs/troubleshooting.md`` embeds)."""
    lines = []
    for entry in error_codes():
        raised = (
            f'`{entry.exception}`' if entry.exception else 'a job failure (workers)'
        )
        lines += [
            f'### `{entry.code}`',
            '',
            f'{entry.meaning} Raised as: {raised}.',
            '',
            f'- **Usual cause**: {entry.cause}',
            f'- **Fix**: {entry.fix}',
            '',
        ]
    return '\n'.join(lines)

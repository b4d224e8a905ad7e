"""Job specifications: what a job reads, writes and computes, checked before it runs.

A job travels as the JSON of one of these models. Paths are checked against
the configured allowed roots (after resolving symbolic links and ``..``) on
both sides: by the client when it submits and by the worker when it runs, so
a hand-crafted message cannot make a worker read or write elsewhere.

An input may also be an ``http(s)://`` or ``s3://`` URL (or its GDAL form,
``/vsicurl/…``, ``/vsis3/…``), read over the network when it lies under one of
the allowed URL prefixes; outputs are always written to a local or mounted
directory.

The job id is a hash of the job's kind, its parameters, the model and the
identity of each input: a local file's resolved path, size and modification
time; a remote object's URL and the version the job states for it
(``input_versions``: a checksum, an ETag, a modification time). The same job
submitted twice, or delivered twice, has one id and one output directory,
``OUTPUT_DIR/<job id>/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from .. import __version__
from ..errors import InputNotFoundError, JobSpecError, PathNotAllowedError
from ..options import RegistrationOptions, TilingOptions
from ..remote import allowed_url, canonical_url, gdal_path, is_remote


class _Spec(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)

    #: directory under which the job's directory ``<job id>/`` is created
    output_dir: str
    #: the STAC Item of the acquisition the job reads, when it came from a
    #: catalogue: the result Item links it as ``derived_from``
    source_item: str | None = None
    #: what identifies the content of each remote input, by its URL (a
    #: checksum, an ETag, a modification time): a new version is a new job
    input_versions: dict[str, str] = {}


def _nest(
    values: Any, field: str, options: type[TilingOptions | RegistrationOptions]
) -> Any:
    """Move flat option keys (the wire format before options were nested) into ``field``."""
    if not isinstance(values, dict):
        return values
    names = {item.name for item in dataclasses.fields(options)}
    flat = {key: values[key] for key in names & values.keys()}
    if not flat:
        return values
    rest = {key: value for key, value in values.items() if key not in flat}
    nested = rest.get(field)
    if isinstance(nested, dict):
        flat = {**nested, **flat}  # the flat keys override (keyword updates)
    elif nested is not None:  # a dataclass: flat keys and an object clash
        raise ValueError(f'give {sorted(flat)} inside {field!r}, not beside it')
    return {**rest, field: flat}


class DetectionParameters(BaseModel):
    """Parameters of tiled detection (see :func:`~torchgeo_cstf.inference.detect_scene`).

    The tiling options are a :class:`~torchgeo_cstf.options.TilingOptions`,
    the record the library and the CLI use; flat keys (``tile``, ``overlap``
    … beside ``detector``, as messages of release 0.1 carry them) are accepted
    and nested.
    """

    model_config = ConfigDict(extra='forbid', frozen=True)

    detector: str = 'cstf_detector_regnetx_002'
    tiling: TilingOptions = TilingOptions()
    crs: str | None = None
    format: Literal['gpkg', 'geojson'] = 'gpkg'
    acquisition_id: str | None = None
    quicklook: bool = True

    @model_validator(mode='before')
    @classmethod
    def _nest_tiling(cls, values: Any) -> Any:
        return _nest(values, 'tiling', TilingOptions)


class DetectionJob(_Spec):
    """Detect objects in one scene, optionally with a co-registered reference.

    Attributes:
        scene: the scene (GeoTIFF path or ``file://`` URI).
        reference: an earlier acquisition on the scene's grid (temporal fusion).
        parameters: detection parameters.
        pipeline_id: set when this is the detection stage of a pipeline job,
            whose id and directory it then uses.
    """

    kind: Literal['detect'] = 'detect'
    scene: str
    reference: str | None = None
    parameters: DetectionParameters = DetectionParameters()
    pipeline_id: str | None = None

    @property
    def result_kind(self) -> Literal['detect', 'pipeline']:
        """The kind its manifest reports: a pipeline's detection stage is the pipeline."""
        return 'detect' if self.pipeline_id is None else 'pipeline'


class _Matching(_Spec):
    """Options of co-registration (see :func:`~torchgeo_cstf.inference.coregister.coregister`).

    Flat option keys (``method``, ``window`` … as release 0.1 sent them) are
    accepted and nested into ``registration``.
    """

    reference: str
    query: str
    matcher: str = 'cstf_matcher_regnetx_004'
    registration: RegistrationOptions = RegistrationOptions()

    @model_validator(mode='before')
    @classmethod
    def _nest_registration(cls, values: Any) -> Any:
        return _nest(values, 'registration', RegistrationOptions)


class MatchingJob(_Matching):
    """Co-register ``query`` onto ``reference`` (tie points, warped COG, report)."""

    kind: Literal['match'] = 'match'

    @property
    def result_kind(self) -> Literal['match']:
        """The kind its manifest reports."""
        return self.kind


class PipelineJob(_Matching):
    """Co-register a new acquisition onto a reference, then detect with temporal fusion."""

    kind: Literal['pipeline'] = 'pipeline'
    parameters: DetectionParameters = DetectionParameters()

    @property
    def result_kind(self) -> Literal['pipeline']:
        """The kind its manifest reports."""
        return self.kind


Job = Annotated[DetectionJob | MatchingJob | PipelineJob, Field(discriminator='kind')]
_JOB: TypeAdapter[DetectionJob | MatchingJob | PipelineJob] = TypeAdapter(Job)


def _spec_error(err: ValidationError) -> JobSpecError:
    problems = '; '.join(
        f'{".".join(str(p) for p in e["loc"]) or "job"}: {e["msg"]}'
        for e in err.errors()
    )
    return JobSpecError('job', problems)


def parse_job(data: Any) -> DetectionJob | MatchingJob | PipelineJob:
    """A job from its JSON form (a dict or a JSON string).

    Raises:
        JobSpecError: when a field is missing, unknown, or has a bad value.
    """
    try:
        if isinstance(data, str | bytes):
            return _JOB.validate_json(data)
        return _JOB.validate_python(data)
    except ValidationError as err:
        raise _spec_error(err) from None


def build[M: BaseModel](model: type[M], **fields: Any) -> M:
    """Build a spec model from keyword fields.

    Raises:
        JobSpecError: when a field is unknown or has a bad value.
    """
    try:
        return model.model_validate(fields)
    except ValidationError as err:
        raise _spec_error(err) from None


def local_path(uri: str) -> Path:
    """The local path of a path or ``file://`` URI.

    Raises:
        PathNotAllowedError: another scheme (``s3://``, ``http://`` …).
    """
    parts = urlsplit(uri)
    if parts.scheme in ('', 'file'):
        return Path(unquote(parts.path) if parts.scheme else uri).expanduser()
    if len(parts.scheme) == 1:  # a Windows drive letter
        return Path(uri)
    raise PathNotAllowedError(
        uri, f'{parts.scheme}:// is not supported here; give a local or mounted path'
    )


def input_path(uri: str) -> Path | str:
    """What GDAL opens for a job input: a local path, or a ``/vsicurl/`` or ``/vsis3/`` path."""
    return gdal_path(uri) if is_remote(uri) else local_path(uri)


def allowed_path(uri: str, roots: tuple[Path, ...]) -> Path:
    """Resolve a path and check that it lies under one of ``roots``.

    Raises:
        PathNotAllowedError: outside every root (after resolving links).
    """
    path = local_path(uri).resolve()
    if not any(path.is_relative_to(root.resolve()) for root in roots):
        raise PathNotAllowedError(
            uri,
            f'outside the allowed roots ({os.pathsep.join(map(str, roots))}); '
            'set CSTF_ALLOWED_ROOTS',
        )
    return path


def _inputs(job: DetectionJob | MatchingJob | PipelineJob) -> list[str]:
    if isinstance(job, DetectionJob):
        return [job.scene] + ([job.reference] if job.reference else [])
    return [job.reference, job.query]


def check_paths(
    job: DetectionJob | MatchingJob | PipelineJob,
    roots: tuple[Path, ...],
    url_prefixes: tuple[str, ...] = (),
) -> None:
    """Check where a job reads and writes.

    Local inputs must exist under the allowed roots; remote inputs must lie
    under an allowed URL prefix (whether they exist is known when a worker
    opens them); the output directory must lie under the roots.

    Args:
        job: the job.
        roots: the allowed directories (``CSTF_ALLOWED_ROOTS``).
        url_prefixes: the allowed URL prefixes (``CSTF_ALLOWED_URL_PREFIXES``).

    Raises:
        PathNotAllowedError: a path outside the roots, a URL under no prefix,
            or a remote output directory.
        InputNotFoundError: a missing local input.
    """
    if is_remote(job.output_dir):
        raise PathNotAllowedError(
            job.output_dir, 'outputs are written to a local or mounted directory'
        )
    allowed_path(job.output_dir, roots)
    for uri in _inputs(job):
        if is_remote(uri):
            allowed_url(uri, url_prefixes)
        elif not allowed_path(uri, roots).is_file():
            raise InputNotFoundError(uri, 'no such file')


def absolute_input(uri: str) -> str:
    """An input as jobs carry it: a resolved local path, or a canonical URL."""
    return canonical_url(uri) if is_remote(uri) else str(local_path(uri).resolve())


def absolute(
    job: DetectionJob | MatchingJob | PipelineJob,
) -> DetectionJob | MatchingJob | PipelineJob:
    """The job with every path made absolute (a worker's directory differs).

    Remote inputs (and the keys of ``input_versions``) become canonical URLs.
    Model checkpoints given as existing relative paths are made absolute too;
    registered model names are left as they are.

    Raises:
        JobSpecError: a version given for a URL that is not an input.
        PathNotAllowedError: a version keyed by something that is not a URL.
    """
    fields: dict[str, Any] = {
        name: absolute_input(getattr(job, name))
        for name in ('scene', 'reference', 'query')
        if getattr(job, name, None)
    }
    versions = {
        canonical_url(url): version for url, version in job.input_versions.items()
    }
    stray = sorted(set(versions) - set(fields.values()))
    if stray:
        raise JobSpecError(
            'input_versions', f'{", ".join(stray)}: not a remote input of this job'
        )
    fields['input_versions'] = versions
    fields['output_dir'] = str(local_path(job.output_dir).resolve())
    for name in ('matcher',):
        value = getattr(job, name, None)
        if value and Path(value).is_file():
            fields[name] = str(Path(value).resolve())
    if isinstance(job, DetectionJob | PipelineJob):
        detector = job.parameters.detector
        if Path(detector).is_file():
            fields['parameters'] = job.parameters.model_copy(
                update={'detector': str(Path(detector).resolve())}
            )
    return job.model_copy(update=fields)


def _identity(uri: str) -> dict[str, Any]:
    if is_remote(uri):  # its stated version is in the job itself (input_versions)
        return {'url': canonical_url(uri)}
    path = local_path(uri).resolve()
    stat = path.stat()
    return {'path': str(path), 'size': stat.st_size, 'mtime_ns': stat.st_mtime_ns}


def _model_identity(name: str) -> dict[str, Any]:
    path = Path(name)
    if path.is_file():  # a checkpoint: its identity, not just its name
        return _identity(name)
    return {'name': name, 'version': __version__}


def job_id(job: DetectionJob | MatchingJob | PipelineJob) -> str:
    """The deterministic id of a job: ``cstf-<kind>-<24 hex digits>``.

    A pipeline's detection stage has the pipeline's id.

    Raises:
        InputNotFoundError: an input that does not exist.
    """
    if isinstance(job, DetectionJob) and job.pipeline_id:
        return job.pipeline_id
    try:
        inputs = [_identity(uri) for uri in _inputs(job)]
    except FileNotFoundError as err:
        raise InputNotFoundError(str(err.filename), 'no such file') from None
    models = (
        [job.parameters.detector]
        if isinstance(job, DetectionJob)
        else [job.matcher]
        if isinstance(job, MatchingJob)
        else [job.matcher, job.parameters.detector]
    )
    content = {
        'job': job.model_dump(mode='json'),
        'output_dir': str(local_path(job.output_dir).resolve()),
        'inputs': inputs,
        'models': [_model_identity(name) for name in models],
    }
    digest = hashlib.sha256(
        json.dumps(content, sort_keys=True).encode('utf-8')
    ).hexdigest()
    return f'cstf-{job.kind}-{digest[:24]}'

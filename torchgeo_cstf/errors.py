"""One exception hierarchy for the whole package.

Every error a user can cause with a bad input is an :class:`InputError`. Each
error class has a stable machine-readable :attr:`~CSTFError.code` (used in job
results and CLI messages) and a message that names the offending input and the
problem with it.
"""

from __future__ import annotations

import os


class CSTFError(Exception):
    """Base class of all errors raised on purpose by torchgeo-cstf."""

    #: Stable machine-readable error code.
    code = 'CSTF_ERROR'


class InputError(CSTFError, ValueError):
    """An input (file, argument, parameter) is unusable.

    Args:
        subject: what the input is (a path, a parameter name, …).
        problem: what is wrong with it, phrased for a person.
    """

    code = 'BAD_INPUT'

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


class NotARasterError(InputError):
    """A file exists but GDAL cannot read it as a raster."""

    code = 'NOT_A_RASTER'


class CorruptRasterError(InputError):
    """A raster opens but some of its pixels cannot be read (truncated, corrupt, undecodable)."""

    code = 'CORRUPT_RASTER'


class EmptyInputError(InputError):
    """An input holds nothing to work on (no valid pixel: all nodata or NaN)."""

    code = 'EMPTY_INPUT'


class NoCRSError(InputError):
    """A raster has no coordinate reference system where one is required."""

    code = 'NO_CRS'


class CRSError(InputError):
    """A CRS cannot be parsed, or two CRSs cannot be reconciled."""

    code = 'BAD_CRS'


class UnsupportedDtypeError(InputError):
    """A raster's data type is not one the package can normalise."""

    code = 'BAD_DTYPE'


class BandCountError(InputError):
    """A raster has a number of bands the operation cannot use."""

    code = 'BAD_BANDS'


class NoOverlapError(InputError):
    """Two rasters that must overlap (co-registration) do not."""

    code = 'NO_OVERLAP'


class NoTransformError(InputError):
    """Matching found no consistent transform between two rasters."""

    code = 'NO_TRANSFORM'


class ModelNotFoundError(InputNotFoundError):
    """A model name, weights name or checkpoint path names no usable model."""

    code = 'MODEL_NOT_FOUND'


class PathNotAllowedError(InputError, PermissionError):
    """A job names a path outside the configured allowed roots."""

    code = 'PATH_NOT_ALLOWED'


class JobSpecError(InputError):
    """A job specification is malformed (missing field, wrong type, bad value)."""

    code = 'BAD_JOB_SPEC'


class ConfigError(CSTFError, ValueError):
    """The job system's configuration (environment variables) is inconsistent."""

    code = 'BAD_CONFIG'


class BrokerUnavailableError(CSTFError, ConnectionError):
    """Redis (broker or result backend) cannot be reached."""

    code = 'BROKER_UNAVAILABLE'


class JobCancelledError(CSTFError):
    """A job was cancelled while it ran."""

    code = 'CANCELLED'


class DomainWarning(UserWarning):
    """Weights run on imagery unlike what they were trained on (see ``models.domain``)."""


class OutputError(CSTFError, OSError):
    """An output could not be written (permissions, full disk, bad format)."""

    code = 'OUTPUT_ERROR'

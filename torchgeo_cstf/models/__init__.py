"""CSTF models: the fusion block (the matcher and detector build on it)."""

from .cstf import FUSIONS, CSTFBlock

__all__ = ('FUSIONS', 'CSTFBlock')

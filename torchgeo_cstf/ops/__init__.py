"""Oriented-box operations on tensors (CPU and CUDA), CXCYWHR convention."""

from .boxes import (
    canonicalize_cxcywhr,
    cxcywhr_to_poly,
    hrsc_mbox_to_cxcywhr,
    poly_to_cxcywhr,
    wrap_angle,
)

__all__ = (
    'canonicalize_cxcywhr',
    'cxcywhr_to_poly',
    'hrsc_mbox_to_cxcywhr',
    'poly_to_cxcywhr',
    'wrap_angle',
)

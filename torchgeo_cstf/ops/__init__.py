"""Geometry: oriented boxes (CXCYWHR, CPU and CUDA) and 3×3 projective maps."""

from .boxes import (
    canonicalize_cxcywhr,
    cxcywhr_to_poly,
    cxcywhr_to_xyxy,
    hrsc_mbox_to_cxcywhr,
    poly_to_cxcywhr,
    transform_cxcywhr,
    wrap_angle,
    xyxy_to_cxcywhr,
)
from .homography import (
    apply_homography,
    fit_affine,
    fit_homography,
    jacobian,
    translation,
)
from .iou import rotated_box_iof, rotated_box_iou, rotated_box_iou_pairs
from .nms import batched_rotated_nms, concatenate_boxes, merge_boxes, rotated_nms
from .padding import pad_to_multiple

__all__ = (
    'apply_homography',
    'batched_rotated_nms',
    'canonicalize_cxcywhr',
    'concatenate_boxes',
    'cxcywhr_to_poly',
    'cxcywhr_to_xyxy',
    'fit_affine',
    'fit_homography',
    'hrsc_mbox_to_cxcywhr',
    'jacobian',
    'merge_boxes',
    'pad_to_multiple',
    'poly_to_cxcywhr',
    'rotated_box_iof',
    'rotated_box_iou',
    'rotated_box_iou_pairs',
    'rotated_nms',
    'transform_cxcywhr',
    'translation',
    'wrap_angle',
    'xyxy_to_cxcywhr',
)

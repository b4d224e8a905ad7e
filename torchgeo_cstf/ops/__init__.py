"""Oriented-box operations on tensors (CPU and CUDA), CXCYWHR convention."""

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
from .iou import rotated_box_iof, rotated_box_iou, rotated_box_iou_pairs
from .nms import batched_rotated_nms, concatenate_boxes, merge_boxes, rotated_nms

__all__ = (
    'batched_rotated_nms',
    'canonicalize_cxcywhr',
    'concatenate_boxes',
    'cxcywhr_to_poly',
    'cxcywhr_to_xyxy',
    'hrsc_mbox_to_cxcywhr',
    'merge_boxes',
    'poly_to_cxcywhr',
    'rotated_box_iof',
    'rotated_box_iou',
    'rotated_box_iou_pairs',
    'rotated_nms',
    'transform_cxcywhr',
    'wrap_angle',
    'xyxy_to_cxcywhr',
)

"""Numeric fields of annotation XML files (VOC, roLabelImg, HRSC2016)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..errors import InputError


def xml_number(
    element: ET.Element, tag: str, path: str, default: float | None = None
) -> float:
    """The number in a child element of an annotation element.

    Args:
        element: the parent element (an object or its box).
        tag: the child's tag.
        path: the annotation file, for the error message.
        default: the value of a missing child (none: missing is an error).

    Returns:
        The number.

    Raises:
        InputError: the child is missing (without ``default``) or not a number.
    """
    text = element.findtext(tag)
    if text is None and default is not None:
        return default
    try:
        return float(text or '')
    except ValueError:
        raise InputError(
            path, f'an <{element.tag}> has no numeric <{tag}> (got {text!r})'
        ) from None

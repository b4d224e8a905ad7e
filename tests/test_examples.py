"""The Example blocks of the main entry points run and print what they say."""

import doctest

import pytest

from torchgeo_cstf.inference import coregister, matching, scene
from torchgeo_cstf.models import cstf, detector, matcher

EXAMPLES = [
    (cstf, 'CSTFBlock'),
    (detector, 'CSTFDetector'),
    (matcher, 'CSTFMatcher'),
    (matching, 'match'),
    (scene, 'detect_scene'),
    (coregister, 'coregister'),
]


@pytest.mark.slow
@pytest.mark.parametrize(('module', 'name'), EXAMPLES)
def test_docstring_example(module: object, name: str) -> None:
    finder = doctest.DocTestFinder(recurse=False)
    (test,) = finder.find(getattr(module, name), name, globs={})
    assert test.examples, f'{name} has no Example block'
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test)
    assert result.failed == 0, f'{name}: {result.failed} of {result.attempted} failed'

#!/usr/bin/env python3
"""Write a folder of small real-format rasters for CrossModalPairs(root=...).

Three 96×96 RGB GeoTIFFs (synthetic scenes standing in for real imagery), named
so that the 80/10/10 split by file name gives every split one file.
"""

from __future__ import annotations

from pathlib import Path

from torchgeo_cstf.datasets.pairs import _file_split
from torchgeo_cstf.synthetic import generate_scene

HERE = Path(__file__).resolve().parent


def main() -> None:
    wanted = {'train', 'val', 'test'}
    index = 0
    while wanted:
        name = Path(f'image_{index:03d}.tif')
        split = _file_split(name)
        if split in wanted:
            generate_scene(HERE / name, size=(96, 96), seed=index, num_objects=3)
            wanted.discard(split)
        index += 1


if __name__ == '__main__':
    main()

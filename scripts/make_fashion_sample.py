"""Make finder/assets/fashion_mnist_sample.npz from the real Fashion-MNIST idx files.

A stratified sample: 400 training images per class (4000) and 100 test images per class (1000),
drawn with a fixed seed, so re-running this script reproduces the file's arrays exactly.

    python scripts/make_fashion_sample.py [--source DIR]

DIR defaults to finder's search path (FINDER_DATA_DIR, /usr/share/datasets/fashion-mnist, ...);
install the Debian package `dataset-fashion-mnist` to get the files offline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from finder.data import load_fashion_mnist, stratified_sample

TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100
SEED = 20261121
OUTPUT = Path(__file__).resolve().parent.parent / "finder" / "assets" / "fashion_mnist_sample.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="directory holding the four idx .gz files")
    parser.add_argument("--output", default=str(OUTPUT))
    args = parser.parse_args()
    full = load_fashion_mnist(args.source, download=False)
    assert full.x_val is not None and full.y_val is not None
    x_train, y_train = stratified_sample(full.x_train, full.y_train, TRAIN_PER_CLASS, seed=SEED)
    x_val, y_val = stratified_sample(full.x_val, full.y_val, TEST_PER_CLASS, seed=SEED + 1)
    np.savez_compressed(args.output, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)
    size = Path(args.output).stat().st_size
    print(f"wrote {args.output}: {len(x_train)} train + {len(x_val)} test images, {size} bytes")


if __name__ == "__main__":
    main()

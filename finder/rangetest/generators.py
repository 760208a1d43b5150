"""Python generators as training data, as Keras's `fit` takes them: a generator that yields
batches, `(x, y)` or `(x, y, sample_weight)`.

A generator is read once. Its batches cannot be drawn again, in the same order or another,
and it cannot be counted. So the range test draws from it as it comes:

- each sweep (each repeat too) trains on the generator's next batches, so `shuffle` and the
  repeats' seeds change nothing;
- a pass has no known length, so a plan needs `steps_per_epoch`, as Keras's own `fit` does
  to train more than one epoch on a generator;
- the batches the test trained on are gone from the generator, so the fit that follows
  trains on the batches after them, as it would after any other warm-up;
- checking the data reads its first batch and puts it back in front (`peeked`).

A validation subset must be the same samples at every point of the curve, and a generator
cannot give them again, so validation data cannot be a generator
(`finder.rangetest.batches.take_samples` says what to pass instead).
"""

from __future__ import annotations

import types
from collections.abc import Generator, Iterator
from typing import Any

from finder.errors import DataError


def is_generator(data: Any) -> bool:
    """Whether `data` is a Python generator, the kind Keras's `fit` reads as one."""
    return isinstance(data, types.GeneratorType)


def peeked(generator: Iterator[Any], where: str = "") -> tuple[Any, Generator[Any, None, None]]:
    """The generator's first batch, and a generator that yields that batch, then the rest.

    Raises:
        DataError: the generator yields nothing.
    """
    try:
        first = next(generator)
    except StopIteration:
        raise DataError(
            f"{where}the generator yields no batches: it is used up (a generator is read "
            "once) or its source is empty."
        ) from None
    return first, _chained(first, generator)


def _chained(first: Any, rest: Iterator[Any]) -> Generator[Any, None, None]:
    # `next` and not `yield from`: closing this generator (Keras closes the one it was given
    # once its fit ends) must leave `rest` open for the fit after it.
    yield first
    while True:
        try:
            batch = next(rest)
        except StopIteration:
            return
        yield batch


class NextBatches:
    """The next `count` batches of `source` as a generator for Keras's `fit` (`data`), and
    whether `source` ran out before them (`ended`, once `data` has been read)."""

    def __init__(self, source: Iterator[Any], count: int) -> None:
        self.count = count
        self.drawn = 0
        self.ended = False
        self.data = self._draw(source)

    def _draw(self, source: Iterator[Any]) -> Generator[Any, None, None]:
        for _ in range(self.count):
            try:
                batch = next(source)
            except StopIteration:
                self.ended = True
                return
            self.drawn += 1
            yield batch

    def check(self) -> None:
        """Raise if the generator ran out before the sweep had its batches.

        Raises:
            DataError: it did, with how many batches it gave.
        """
        if self.ended:
            raise DataError(
                f"The training generator ran out after {self.drawn} of the {self.count} "
                "batches the range test needed: yield batches without end (Keras's fit needs "
                "that too, to train more than one epoch on a generator)."
            )

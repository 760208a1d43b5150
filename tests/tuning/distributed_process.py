"""One process of keras-tuner's distributed mode running `finder.tune` (see test_distributed).

    KERASTUNER_TUNER_ID=chief|worker0|... KERASTUNER_ORACLE_IP=127.0.0.1 \
    KERASTUNER_ORACLE_PORT=PORT python -m tests.tuning.distributed_process OUT.json
"""

from __future__ import annotations

import sys
from pathlib import Path

from finder.tuning import tune
from tests.tuning.models import TINY_SPACE, tiny_classifier, tiny_data

MAX_TRIALS = 4


def main(out: str) -> None:
    x, y, x_val, y_val = tiny_data()
    result = tune(
        tiny_classifier,
        x,
        y,
        validation_data=(x_val, y_val),
        space=TINY_SPACE,
        epochs=2,
        batch_size=32,
        tuner="random",
        max_trials=MAX_TRIALS,
    )
    result.save(Path(out))


if __name__ == "__main__":
    main(sys.argv[1])

"""Every import of keras-tuner's private `keras_tuner.src` modules, in one place.

keras-tuner's public API has no objective parser, no distributed-role check and no oracle
servicer; finder uses its internals for these (verified on keras-tuner 1.4.8). A keras-tuner
release that moves them breaks this module only. The imports are made on first use: grpc and
the protos load only in distributed searches.
"""

from __future__ import annotations

from typing import Any


def create_objective(objective: Any) -> Any:
    """keras-tuner's `Objective` for a metric name or an `Objective`.

    Raises:
        ValueError: the direction of a metric name is unknown.
    """
    from keras_tuner.src.engine.objective import create_objective as create

    return create(objective)


def distributed_role() -> str:
    """ "local", or "chief" / "worker" when keras-tuner's distributed variables are set."""
    from keras_tuner.src.distribute import utils

    if not utils.has_chief_oracle():
        return "local"
    return "chief" if utils.is_chief_oracle() else "worker"


def add_oracle_servicer(oracle: Any, server: Any) -> Any:
    """Add keras-tuner's gRPC servicer of `oracle` to the grpc `server`; returns the servicer
    (its `stop_triggered` is set once workers have been told to stop)."""
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    return servicer


def search_over(oracle: Any) -> bool:
    """keras-tuner's chief-exit test: the search has ended and no trial is running."""
    from keras_tuner.src.distribute import oracle_chief

    return bool(oracle_chief.exit_chief(oracle))

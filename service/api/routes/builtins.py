"""`GET /builtins`: the models and datasets a job can name without uploading anything, and the
schedule families (finder's registry) a tuning job can search."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter

from finder.families import FAMILIES
from service.api.deps import CurrentOwner
from service.api.models import (
    BuiltinDatasetPublic,
    BuiltinFamilyPublic,
    BuiltinModelPublic,
    BuiltinsPublic,
)
from service.api.responses import error_responses

router = APIRouter(prefix="/builtins", tags=["builtins"])

DATASET_DESCRIPTIONS = {
    "fashion_mnist": "Fashion-MNIST, 60k train / 10k test 28x28 grey images "
    "(Debian package dataset-fashion-mnist, or FINDER_DATA_DIR).",
    "fashion_mnist_sample": "A stratified Fashion-MNIST sample bundled with finder "
    "(4000 train / 1000 test).",
}


@cache
def describe_builtins() -> BuiltinsPublic:
    # finder.zoo imports Keras: loaded on first use, not when the API starts.
    from finder.data import BUILTIN_DATASETS, FASHION_MNIST_CLASSES, find_fashion_mnist_dir
    from finder.zoo import BUILTIN_MODELS, FASHION_INPUT_SHAPE

    models = [
        BuiltinModelPublic(
            name=name,
            description=(builder.__doc__ or name).strip().splitlines()[0],
            input_shape=list(FASHION_INPUT_SHAPE),
        )
        for name, builder in sorted(BUILTIN_MODELS.items())
    ]
    datasets = [
        BuiltinDatasetPublic(
            name=name,
            description=DATASET_DESCRIPTIONS.get(name, name),
            input_shape=list(FASHION_INPUT_SHAPE),
            num_classes=len(FASHION_MNIST_CLASSES),
            available=name != "fashion_mnist" or find_fashion_mnist_dir() is not None,
        )
        for name in BUILTIN_DATASETS
    ]
    families = [BuiltinFamilyPublic(**family.to_dict()) for _, family in sorted(FAMILIES.items())]
    return BuiltinsPublic(models=models, datasets=datasets, families=families)


@router.get("", response_model=BuiltinsPublic, responses=error_responses(401))
def list_builtins(owner: CurrentOwner) -> BuiltinsPublic:
    """Built-in models (built for the data's input shape; Fashion-MNIST's shown), datasets and
    schedule families."""
    return describe_builtins()

"""`RangeTestConfig`: one place for the range test's settings, checked when built, and the
source of the CLI's options and the service's request fields."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import pytest

from finder.defaults import BATCH_SIZE, DIVERGENCE, SMOOTHING, VALIDATION_SAMPLES
from finder.errors import InvalidArgumentError, InvalidRangeError
from finder.rangetest.config import RangeTestConfig, config_fields, setting_of

# Runs on TensorFlow and again under KERAS_BACKEND=jax (.ci/run).
pytestmark = pytest.mark.backend_neutral


def test_defaults_come_from_finder_defaults():
    config = RangeTestConfig()
    assert (config.batch_size, config.smoothing, config.divergence) == (
        BATCH_SIZE,
        SMOOTHING,
        DIVERGENCE,
    )
    assert config.validation_samples == VALIDATION_SAMPLES
    assert config.auto and config.sweeps == 1 and config.repeats is None
    # Every field carries its help text.
    assert all(setting_of(item).help for item in config_fields())


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"smoothing": 1.0}, InvalidArgumentError, r"`smoothing` must be in \[0, 1\)"),
        ({"divergence": 1.0}, InvalidArgumentError, "`divergence` must be a finite number > 1"),
        ({"divergence": float("inf")}, InvalidArgumentError, "divergence=inf"),
        ({"repeats": 0}, InvalidArgumentError, "`repeats` must be an integer > 0"),
        ({"repeats": True}, InvalidArgumentError, "repeats=True"),
        ({"batch_size": 2.5}, InvalidArgumentError, "`batch_size` must be an integer > 0"),
        ({"mode": "cosine"}, InvalidArgumentError, r"`mode` must be one of \('exp', 'linear'\)"),
        ({"budget": 0}, InvalidArgumentError, "`budget` must be an integer > 0"),
        ({"validation_every": 0}, InvalidArgumentError, "validation_every=0"),
        ({"shuffle": 1}, InvalidArgumentError, "`shuffle` must be a bool"),
        ({"num_steps": 1}, InvalidRangeError, "`num_steps` must be an integer >= 2"),
        ({"min_lr": -1.0}, InvalidRangeError, "`min_lr` must be a finite number > 0"),
        (
            {"min_lr": 1.0, "max_lr": 0.1, "num_steps": 10},
            InvalidRangeError,
            "`min_lr` must be < `max_lr`",
        ),
        (
            {"min_lr": 1e-3, "max_lr": 1.0, "num_steps": 10, "budget": 50},
            InvalidArgumentError,
            "auto range only",
        ),
    ],
)
def test_the_config_checks_itself_when_built(settings, error, message):
    with pytest.raises(error, match=message):
        RangeTestConfig(**settings)


def test_build_takes_overrides_by_name_and_refuses_unknown_ones():
    base = RangeTestConfig(seed=3)
    built = RangeTestConfig.build(base, {"smoothing": 0.5})
    assert (built.seed, built.smoothing) == (3, 0.5)
    with pytest.raises(TypeError, match="num_step"):
        RangeTestConfig.build(None, {"num_step": 10})
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.seed = 4  # type: ignore[misc]


def test_a_run_spec_is_a_config_whose_json_keeps_its_flat_shape():
    from finder.jobs import RunSpec

    spec = RunSpec(model="mlp", min_lr=1e-3, max_lr=1.0, num_steps=20)
    assert isinstance(spec, RangeTestConfig) and not spec.auto
    document = spec.to_dict()
    # The job's fields and every setting, side by side, as `RunSpec(**document)` reads them.
    assert document["model"] == "mlp" and document["num_steps"] == 20
    assert RunSpec(**document) == spec
    # A job sweeps an explicit range three times unless told otherwise.
    assert spec.range_test_config().repeats == 3
    assert spec.range_test_config().settings() == {**spec.settings(), "repeats": 3}
    with pytest.raises(InvalidArgumentError, match="smoothing"):
        RunSpec(smoothing=2.0)


# A config with one more field than finder's: installed before the CLI and the service are
# imported, it must show up in both without either being edited.
EXTENDED = textwrap.dedent(
    """
    import dataclasses, json, sys, tempfile
    from pathlib import Path

    import finder.rangetest.config as config

    @dataclasses.dataclass(frozen=True)
    class Extended(config.RangeTestConfig):
        warmup_share: float = config.setting(
            0.25, "Share of the sweep spent warming up (a field added for this test).", float,
            ge=0, lt=1,
        )

    config.RangeTestConfig = Extended

    from click.testing import CliRunner
    from finder.cli.main import cli

    help_text = " ".join(CliRunner().invoke(cli, ["run", "--help"]).output.split())
    from service import Settings, create_app

    data = Path(tempfile.mkdtemp())
    settings = Settings(database_url=f"sqlite:///{data / 'db.sqlite'}", data_dir=data,
                        api_keys=["k" * 32], run_dispatcher=False)
    schemas = create_app(settings).openapi()["components"]["schemas"]
    from finder.jobs import RunSpec
    from service.api.specs import find_lr_spec
    from service.api.models import FindLRCreate

    spec = find_lr_spec(FindLRCreate(warmup_share=0.5), model_path=None, data_path=None)
    print(json.dumps({
        "help": help_text,
        "schema": schemas["FindLRCreate"]["properties"].get("warmup_share"),
        "spec": RunSpec(**spec).warmup_share,
    }))
    """
)


def test_a_new_config_field_appears_in_the_cli_help_and_the_openapi_schema():
    pytest.importorskip("fastapi")
    completed = subprocess.run(
        [sys.executable, "-c", EXTENDED], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "--warmup-share FLOAT Share of the sweep spent warming up" in found["help"]
    assert found["schema"]["default"] == 0.25
    assert found["schema"]["minimum"] == 0 and found["schema"]["exclusiveMaximum"] == 1
    assert found["schema"]["description"].startswith("Share of the sweep spent warming up")
    # The request's value reaches the job's spec.
    assert found["spec"] == 0.5


def test_every_config_field_is_an_option_of_finder_run_and_finder_tune():
    from click.testing import CliRunner

    from finder.cli.main import cli

    for command in ("run", "tune"):
        help_text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
        for item in config_fields():
            rule = setting_of(item)
            flag = (
                "--lr-range" if rule.flag == "" else rule.flag or "--" + item.name.replace("_", "-")
            )
            assert flag in help_text, (command, item.name)
            if rule.flag != "":
                assert " ".join(rule.help.split()[:6]) in help_text, (command, item.name)

"""``fhircrm noshow train [--output FILE]`` and ``fhircrm noshow evaluate``."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from fhircrm.config import get_settings

T = TypeVar("T")


def _with_store(work: Callable[..., Awaitable[T]]) -> T:
    from fhircrm.clock import current_time
    from fhircrm.command_store import command_store

    settings = get_settings()

    async def run() -> T:
        async with command_store("noshow-cli", settings, transaction=False) as store:
            return await work(store, settings, current_time(settings))

    return asyncio.run(run())


def _train(args: argparse.Namespace) -> int:
    from fhircrm.noshow.training import train

    try:
        model, count = _with_store(lambda store, _settings, now: train(store, now=now))
    except ValueError as exc:
        print(f"cannot train: {exc}")
        return 1
    output = args.output or get_settings().noshow_model_file or Path("fhircrm-data/noshow-model.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(model.to_json(), indent=2))
    print(f"trained on {count} past appointments; model written to {output} (set FHIRCRM_NOSHOW_MODEL_FILE)")
    return 0


def _evaluate(_args: argparse.Namespace) -> int:
    from fhircrm.noshow.training import evaluate

    try:
        print(_with_store(lambda store, settings, now: evaluate(store, settings=settings, now=now)))
    except ValueError as exc:
        print(f"cannot evaluate: {exc}")
        return 1
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    noshow = commands.add_parser("noshow", help="the no-show risk model")
    actions = noshow.add_subparsers(dest="noshow_command", required=True)
    train = actions.add_parser("train", help="fit the model on the store's past appointments")
    train.add_argument("--output", type=Path)
    train.set_defaults(handler=_train)
    evaluate = actions.add_parser("evaluate", help="AUC, calibration and band rates on held-out later appointments")
    evaluate.set_defaults(handler=_evaluate)

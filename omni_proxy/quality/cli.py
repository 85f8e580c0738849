"""``omni-proxy router train`` and ``omni-proxy router eval`` (CONTRACT.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import Config, load_config

__all__ = ["add_commands"]


def _registry(config: Config) -> Any:
    from ..app import provider_classes
    from ..plugins import get_plugin_manager
    from ..registry import build_registry

    return build_registry(config, provider_classes(get_plugin_manager()))


def _base_model(config: Config, path: str | None) -> Any:
    from . import load

    return load(path or getattr(config.routing, "quality_model", None))


def _fail(message: str) -> int:
    print(f"omni-proxy router: {message}", file=sys.stderr)
    return 2


def cmd_train(args: argparse.Namespace) -> int:
    from . import QualityModelError
    from .data import DataError, examples_from_rows, read_examples
    from .train import Progress, train

    config = load_config(args.config)
    registry = _registry(config)
    names = {m.name: m for m in registry}
    try:
        if args.from_db:
            from . import from_db_rows

            try:
                raw = from_db_rows(config, args.org)
            except Exception as exc:  # a missing table or unreachable database
                return _fail(f"cannot read recorded outcomes: {exc}")
            examples = examples_from_rows(raw, names)
            if not examples:
                return _fail(
                    "no recorded outcomes with prompt text yet (POST /v1/feedback or the "
                    "cascade strategy records them)"
                )
        else:
            examples = read_examples(args.data, names)
        base = _base_model(config, args.quality_model)
    except (DataError, QualityModelError) as exc:
        return _fail(str(exc))
    bar = Progress(100)
    fit = train(examples, names, registry.premium, base, progress=bar.update)
    out = Path(args.out)
    try:
        if out.suffix == "" and not out.exists():
            out.mkdir(parents=True)
        written = fit.model.dump(out)
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc.strerror or exc}")
    print(
        f"items: {fit.items} ({fit.held_out} held out), trained in {fit.seconds:.1f}s "
        f"({fit.cpu_seconds:.1f}s CPU)"
    )
    print("models: " + ", ".join(f"{n} ({c} scores)" for n, c in fit.models.items()))
    print(
        f"held-out fit (log loss, lower is better): {fit.loss_before:.4f} before, "
        f"{fit.loss_after:.4f} after"
    )
    print(f"wrote {written}; use it with routing.quality_model: {written}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from . import QualityModelError
    from .data import DataError, read_examples
    from .evaluate import evaluate, format_report

    config = load_config(args.config)
    registry = _registry(config)
    names = {m.name for m in registry}
    try:
        examples = read_examples(args.data)  # scores of models not in the registry are ignored
        ignored = sorted({n for ex in examples for n in ex.scores if n not in names})
        examples = [
            replace(ex, scores={n: s for n, s in ex.scores.items() if n in names})
            for ex in examples
        ]
        model = _base_model(config, args.quality_model)
        result = evaluate(examples, registry, config, model)
        result["ignored_models"] = ignored
    except (DataError, QualityModelError, ValueError) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result))
    return 0


def add_commands(sub: Any) -> None:
    """Add the ``router`` command group to the top-level parser's subcommands."""
    router = sub.add_parser("router", help="train and evaluate the routing quality model")
    rsub = router.add_subparsers(dest="router_command", required=True)

    tr = rsub.add_parser(
        "train", help="learn a quality model from labelled prompts or recorded outcomes"
    )
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help='JSONL: {"messages": [...], "scores": {"<model>": 0..1}}')
    src.add_argument(
        "--from-db", action="store_true", help="learn from /v1/feedback scores and cascade verdicts"
    )
    tr.add_argument("--out", required=True, help="file (or folder) to write the model to")
    tr.add_argument("--org", help="with --from-db: only this org's outcomes")
    tr.add_argument("--config", help="YAML config file (default: $OMNI_CONFIG)")
    tr.add_argument(
        "--quality-model", help="start from this model (default: routing.quality_model or shipped)"
    )
    tr.set_defaults(func=cmd_train)

    ev = rsub.add_parser(
        "eval", help="cost against quality at each quality floor on labelled prompts, APGR"
    )
    ev.add_argument("--data", required=True, help="JSONL of labelled prompts (as for train)")
    ev.add_argument("--config", help="YAML config file (default: $OMNI_CONFIG)")
    ev.add_argument(
        "--quality-model",
        help="a file from `router train` (default: routing.quality_model or shipped)",
    )
    ev.add_argument("--json", action="store_true", help="print the result as JSON")
    ev.set_defaults(func=cmd_eval)

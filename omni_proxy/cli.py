"""The ``omni-proxy`` command (CONTRACT.md): serve, migrate, keys, models, plugins, router."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence

from . import __version__
from .config import Config, ConfigError, load_config
from .plugins import PluginError


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def _load(args: argparse.Namespace, *, demo: bool = False) -> Config:
    return load_config(getattr(args, "config", None), demo=demo)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.config:
        os.environ["OMNI_CONFIG"] = args.config
    if args.demo:
        os.environ["OMNI_DEMO"] = "1"
    config = _load(args, demo=args.demo)
    from .server import security
    from .server.logs import configure

    configure(config.log_level)  # before anything logs: one format on stderr throughout
    if args.demo:
        config = _demo_key(config)
    elif not config.master_key and not _has_org_keys(config):
        print(
            "omni-proxy will not start as an open proxy: no way to authenticate is set.\n"
            "Set a bootstrap admin key, e.g.\n"
            "  export OMNI_MASTER_KEY=sk-omni-$(python3 -c \\\n"
            "      'import secrets; print(secrets.token_urlsafe(24))')\n"
            "or create keys with `omni-proxy keys create --org NAME`, or try `--demo`.",
            file=sys.stderr,
        )
        return 2
    # Build once here so a bad config fails before a port is bound.
    from .app import create_app, tune_gc

    app = create_app(config)
    print(
        f"omni-proxy {__version__} on http://{args.host}:{args.port}/v1 "
        f"({len(app.state.services.registry)} models, database {_safe_url(config.database_url)})",
        flush=True,
    )
    options = dict(
        host=args.host,
        port=args.port,
        log_level=config.log_level,
        loop="auto",
        http="omni_proxy.server.security:LimitedHttpToolsProtocol",  # httptools + header limit
        access_log=False,
        log_config=None,  # uvicorn's loggers use the format configure() set (logs.py)
        proxy_headers=False,  # nothing here reads X-Forwarded-*; skip the per-request work
        timeout_graceful_shutdown=30,
        timeout_keep_alive=security.KEEP_ALIVE_S,  # idle keep-alive connections close
    )
    tune_gc()
    # uvicorn re-raises the signal it shut down on; after a graceful shutdown that is a clean exit.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    if args.workers > 1:
        made = None
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Each worker writes its metrics here; /metrics merges them.
            made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="omni-metrics-")
        try:
            uvicorn.run(
                "omni_proxy.app:app_from_env", factory=True, workers=args.workers, **options
            )
        finally:
            if made is not None:  # ours, so ours to remove (one was left per run)
                shutil.rmtree(made, ignore_errors=True)
    else:
        uvicorn.run(app, **options)
    return 0


def _demo_key(config: Config) -> Config:
    """Print a key that works for this run, whatever the database already holds: a new
    admin key in the ``demo`` org (kept, so it works next run too), or a per-run master key
    when the database lives in memory."""
    from .accounts.keys import DEMO_ORG, mint_demo_key

    key = mint_demo_key(config)
    if key is not None:
        where = (
            f"a new admin key in org {DEMO_ORG!r}, kept in {_safe_url(config.database_url)}; "
            f"`omni-proxy keys list --org {DEMO_ORG}` lists the demo keys"
        )
    elif config.master_key:
        key, where = "$OMNI_MASTER_KEY", "the bootstrap key you set; the database is in memory"
    else:
        key = "sk-omni-demo-" + secrets.token_urlsafe(18)
        where = "valid while this process runs: the database is in memory"
        os.environ["OMNI_MASTER_KEY"] = key
        config = config.model_copy(update={"master_key": key})
    print(
        "demo mode: SIMULATED models, no provider is called.\n"
        f"API key for this run: {key}\n  ({where})",
        flush=True,
    )
    return config


def _has_org_keys(config: Config) -> bool:
    """Whether the database already holds keys (then serve may start without a master key)."""
    try:
        from .accounts.keys import has_active_keys
    except ImportError:
        return False
    return has_active_keys(config)


def _safe_url(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def cmd_models(args: argparse.Namespace) -> int:
    from .plugins import get_plugin_manager, provider_classes
    from .registry import build_registry

    config = _load(args, demo=args.demo)
    registry = build_registry(config, provider_classes(get_plugin_manager()))
    rows = [
        [
            m.name,
            m.provider,
            m.model,
            str(m.cost_input),
            str(m.cost_output),
            "-" if m.cost_cached_input is None else str(m.cost_cached_input),
            m.price_source,
            str(m.avg_latency_ms),
            ",".join(m.strengths) or "-",
            "yes" if m.supports_functions else "no",
            "yes" if m.supports_vision else "no",
            str(m.max_tokens),
            m.kind,
            ",".join(d.id for d in m.deployments) or "-",
        ]
        for m in registry
    ]
    if not rows:
        print(
            "omni-proxy: no models are configured. Pass --config FILE (see docs/configuration.md),"
            " export a provider key (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, "
            "GROQ_API_KEY, OPENROUTER_API_KEY, MISTRAL_API_KEY), or add --demo for the "
            "simulated models.",
            file=sys.stderr,
        )
    print(
        _table(
            rows,
            [
                "name",
                "provider",
                "upstream",
                "in$/1M",
                "out$/1M",
                "cached$/1M",
                "price",
                "latency_ms",
                "strengths",
                "tools",
                "vision",
                "context",
                "kind",
                "deployments",
            ],
        )
    )
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import describe_plugins, get_plugin_manager

    rows = [
        [p["name"], p["distribution"] or "-", p["version"] or "-", ", ".join(p["hooks"])]
        for p in describe_plugins(get_plugin_manager())
    ]
    print(_table(rows, ["plugin", "distribution", "version", "hooks"]))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .routing.evaluate import main as evaluate_main

    return int(evaluate_main(args.rest))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omni-proxy", description="A drop-in OpenAI-compatible LLM proxy and router."
    )
    parser.add_argument("--version", action="version", version=f"omni-proxy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API")
    serve.add_argument(
        "--config", help="YAML config file (default: $OMNI_CONFIG, else none: embedded defaults)"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the same port (default: %(default)s)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="add the simulated `demo` provider so everything works without keys",
    )
    serve.set_defaults(func=cmd_serve)

    models = sub.add_parser("models", help="the model registry as a table")
    models.add_argument("--config")
    models.add_argument("--demo", action="store_true", help="include the simulated demo models")
    models.set_defaults(func=cmd_models)

    plugins = sub.add_parser("plugins", help="installed plugins, versions and their hooks")
    plugins.set_defaults(func=cmd_plugins)

    ev = sub.add_parser(
        "eval-classifier",
        help="precision/recall of a task classifier on the labelled set "
        "([PATH] [--classifier module:function] [--errors N] [--json] [--fail-under X])",
    )
    ev.add_argument("rest", nargs=argparse.REMAINDER)
    ev.set_defaults(func=cmd_eval)

    try:
        from .accounts.keys import add_commands
    except ImportError:
        pass
    else:
        add_commands(sub)

    from .quality.cli import add_commands as add_router_commands

    add_router_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["eval-classifier"]:
        # Its options belong to omni_proxy.routing.evaluate; argparse would refuse leading ones.
        from .routing.evaluate import main as evaluate_main

        return int(evaluate_main(argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, PluginError) as exc:
        print(f"omni-proxy: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

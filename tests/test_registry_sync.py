"""The config seeds the ``models`` table; the registry follows the table without a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from starlette.testclient import TestClient

from omni_proxy.app import create_app
from omni_proxy.config import Config


def test_models_table_is_seeded_and_changes_reach_the_registry(tmp_path: Path) -> None:
    config = Config(master_key="m", demo=True, database_url=f"sqlite:///{tmp_path}/r.db")
    app = create_app(config)
    with TestClient(app) as client:
        db = app.state.services.db
        seeded = client.portal.call(db.list_models)
        assert {r["name"] for r in seeded} >= {"demo-mini", "demo-premium", "demo-embed"}
        mini = next(r for r in seeded if r["name"] == "demo-mini")
        assert mini["cost_input"] == Decimal("0.15") and "chat" in mini["strengths"]
        # Another instance (or an operator) adds a model and reprices one.
        added = {**mini, "name": "demo-extra", "cost_input": Decimal("0.01")}
        repriced = {**mini, "cost_output": Decimal("0.99")}
        client.portal.call(db.seed_models, [added, repriced])
        assert client.portal.call(app.state.services.registry_sync.refresh) is True
        ids = [
            m["id"]
            for m in client.get("/v1/models", headers={"authorization": "Bearer m"}).json()["data"]
        ]
        assert "demo-extra" in ids
        assert app.state.services.pipeline.registry.get("demo-mini").cost_output == Decimal("0.99")
        # Nothing changed: no swap.
        assert client.portal.call(app.state.services.registry_sync.refresh) is False
        r = client.post(
            "/v1/chat/completions",
            headers={"authorization": "Bearer m"},
            json={"model": "demo-extra", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == 200 and r.json()["model"] == "demo-extra"

"""The analytics dashboard served by the proxy itself at ``/dashboard``.

Overview, usage over time, models and requests for the signed-in key's org, over a date
range, from the same queries as ``GET /v1/usage``. Server-rendered HTML (Jinja2) and SVG
charts: no JavaScript, nothing loaded from elsewhere. See ``session`` for sign-in.
"""

from __future__ import annotations

from starlette.routing import Route

from . import views

ROUTES: list[Route] = [
    Route("/dashboard", views.overview, methods=["GET"]),
    Route("/dashboard/usage", views.usage_page, methods=["GET"]),
    Route("/dashboard/models", views.models_page, methods=["GET"]),
    Route("/dashboard/requests", views.requests_page, methods=["GET"]),
    Route("/dashboard/audit", views.audit_page, methods=["GET"]),
    Route("/dashboard/requests.csv", views.requests_csv, methods=["GET"]),
    Route("/dashboard/keys", views.keys_page, methods=["GET"]),
    Route("/dashboard/requests/{request_id}", views.request_page, methods=["GET"]),
    Route("/dashboard/login", views.login_form, methods=["GET"]),
    Route("/dashboard/login", views.login_submit, methods=["POST"]),
    Route("/dashboard/logout", views.logout, methods=["POST"]),
    Route("/dashboard/org", views.switch_org, methods=["POST"]),
    Route("/dashboard/static/{name}", views.static_file, methods=["GET"]),
]

__all__ = ["ROUTES"]

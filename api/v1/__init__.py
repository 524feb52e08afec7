"""The native REST API under /api/v1: plain JSON variables, {"error": {code, message}} errors."""

from fastapi import APIRouter

from api.v1 import (
    access,
    definitions,
    documents,
    health,
    incidents,
    instances,
    messages,
    migrations,
    repairs,
    reports,
    user_tasks,
)

router = APIRouter(prefix="/api/v1")
for module in (health, definitions, instances, repairs, migrations, user_tasks, incidents, messages, access,
               documents, reports):
    router.include_router(module.router)

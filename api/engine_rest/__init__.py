"""The Camunda 7 REST subset under /engine-rest, for existing Camunda clients: adapters over the same
engine functions as /api/v1, with Camunda's shapes, status codes and {type, message} errors."""

from fastapi import APIRouter

from api.engine_rest import definitions, external_tasks, incidents, instances, messages, migration, tasks

router = APIRouter(prefix="/engine-rest")
for module in (external_tasks, definitions, instances, tasks, incidents, messages, migration):
    router.include_router(module.router)

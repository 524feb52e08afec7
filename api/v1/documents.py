"""Documents attached to a case or a task: upload (size-limited, type-checked), list, download."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.schemas.common import ErrorOut, ListOut
from api.security import CallerDep, Need
from api.security import Permission as P

router = APIRouter(tags=["documents"])
_ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 413: {"model": ErrorOut}}


class DocumentOut(BaseModel):
    id: str
    instance_id: str
    task_id: str | None
    kind: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime

    @classmethod
    def of(cls, d: engine.DocumentInfo) -> DocumentOut:
        return cls(**{name: getattr(d, name) for name in cls.model_fields})


async def _read(request: Request, file: UploadFile) -> bytes:
    limit = request.app.state.settings.max_document_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise engine.Invalid(f"the file is larger than {limit} bytes")
    return content


@router.post("/instances/{instance_id}/documents", status_code=201, response_model=DocumentOut,
             responses=_ERRORS, dependencies=[Need(P.WORK_TASKS)])
async def upload_to_case(instance_id: str, request: Request, db: DbDep, actor: ActorDep, audit: AuditDep,
                         file: Annotated[UploadFile, File(description="PDF, Word, ODT, Excel, CSV, text, HTML, "
                                                                      "Markdown, JSON, PNG or JPEG")],
                         kind: Annotated[str | None, Form(description="e.g. imr, chronology, final_report")] = None,
                         ) -> DocumentOut:
    """Attach a file to a case you may see."""
    content = await _read(request, file)
    return DocumentOut.of(await call(db, engine.add_document, actor=actor, instance_id=instance_id,
                                     filename=file.filename or "document", content_type=file.content_type or "",
                                     content=content, kind=kind,
                                     max_bytes=request.app.state.settings.max_document_bytes, audit=audit.entry()))


@router.post("/user-tasks/{task_id}/documents", status_code=201, response_model=DocumentOut, responses=_ERRORS,
             dependencies=[Need(P.WORK_TASKS)])
async def upload_to_task(task_id: str, request: Request, db: DbDep, actor: ActorDep, audit: AuditDep,
                         file: Annotated[UploadFile, File()],
                         kind: Annotated[str | None, Form()] = None) -> DocumentOut:
    """Attach a file to one of your open tasks (an agency's IMR, its chronology)."""
    task = await call(db, engine.get_user_task, task_id=task_id, with_variables=False, viewer=actor)
    content = await _read(request, file)
    return DocumentOut.of(await call(db, engine.add_document, actor=actor, instance_id=task.instance_id,
                                     task_id=task_id, filename=file.filename or "document",
                                     content_type=file.content_type or "", content=content, kind=kind,
                                     max_bytes=request.app.state.settings.max_document_bytes, audit=audit.entry()))


@router.get("/instances/{instance_id}/documents", response_model=ListOut[DocumentOut], responses=_ERRORS,
            dependencies=[Need(P.WORK_TASKS)])
async def list_case_documents(instance_id: str, db: DbDep, actor: ActorDep) -> ListOut[DocumentOut]:
    """The case's documents you may see (an agency lead: their own)."""
    docs = await call(db, engine.list_documents, instance_id=instance_id, viewer=actor)
    return ListOut[DocumentOut](data=[DocumentOut.of(d) for d in docs], count=len(docs))


@router.get("/documents/{document_id}", responses={200: {"content": {"application/octet-stream": {}}}, **_ERRORS})
async def download(document_id: str, db: DbDep, caller: CallerDep, audit: AuditDep) -> Response:
    """The file itself, as an attachment (never rendered inline); its name in UTF-8 (RFC 6266/5987)."""
    if not (caller.can(P.READ_INSTANCE) or caller.can(P.WORK_TASKS)):
        raise HTTPException(403, "your role does not allow reading documents")
    info, content = await call(db, engine.get_document, document_id=document_id, viewer=caller.actor)
    audit.touched(info.instance_id)
    return Response(content, media_type=info.content_type,
                    headers={"Content-Disposition": content_disposition(info.filename)})


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the real name encoded (RFC 6266, RFC 5987), so
    a Welsh or Chinese file name downloads as itself and a header never carries raw non-Latin-1."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"



"""`/jobs`: list, read, follow, plot, cancel and delete the caller's jobs."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.api.deps import CurrentOwner, EngineDep, SessionDep, SettingsDep
from service.api.models import JobPublic, JobsPublic, JobStatus, job_document
from service.api.responses import error_responses
from service.core.db import TERMINAL_STATUSES, Job
from service.core.errors import ConflictError
from service.store import jobs as job_store
from service.store.cache import FinishedJobCache

router = APIRouter(prefix="/jobs", tags=["jobs"])

EVENT_POLL_S = 0.25
CURVE_MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def owned_job(job_id: str, session: SessionDep, owner: CurrentOwner) -> Job:
    return job_store.get_job(session, owner, job_id)


OwnedJob = Annotated[Job, Depends(owned_job)]


@router.get("", response_model=JobsPublic, responses=error_responses(401))
def list_jobs(
    session: SessionDep,
    owner: CurrentOwner,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobsPublic:
    """The caller's jobs, newest first (without their results)."""
    jobs, count = job_store.list_jobs(session, owner, status=status, limit=limit, offset=offset)
    return JobsPublic(data=[JobPublic.from_row(job) for job in jobs], count=count)


def load_document(engine: Engine, cache: FinishedJobCache, owner: str, job_id: str) -> bytes:
    with Session(engine) as session:
        job = job_store.get_job(session, owner, job_id)
        document = job_document(job)
    if job.status in TERMINAL_STATUSES:
        cache.put(owner, job_id, document)
    return document


@router.get(
    "/{job_id}",
    response_model=JobPublic,
    responses=error_responses(401, 404),
    summary="A job: status, progress, and its result once succeeded",
)
async def read_job(job_id: str, owner: CurrentOwner, request: Request) -> Response:
    # The dashboards' hot path, kept lean: a finished job never changes, so it is answered from
    # memory when it can (engine and cache are read from app.state, not resolved as
    # dependencies), and the stored result is spliced in verbatim, never re-validated.
    cache: FinishedJobCache = request.app.state.finished_jobs
    document = cache.get(owner, job_id)
    if document is None:
        engine: Engine = request.app.state.engine
        document = await anyio.to_thread.run_sync(load_document, engine, cache, owner, job_id)
    return Response(document, media_type="application/json")


@router.post(
    "/{job_id}/cancel",
    status_code=202,
    response_model=JobPublic,
    responses=error_responses(401, 404, 409),
    summary="Cancel a queued or running job (it is kept)",
)
def cancel_job(job_id: str, session: SessionDep, owner: CurrentOwner) -> JobPublic:
    """A queued job is cancelled at once; a running one has its process stopped by the
    dispatcher within a poll or two (`cancel_requested` is true until then). Cancelling a
    cancelled job again is harmless; a job that succeeded or failed is 409."""
    return JobPublic.from_row(job_store.request_cancel(session, owner, job_id))


def remove_job_files(results_dir: Path, job_id: str) -> None:
    """The job's rendered curves (`results_dir/<id>/`)."""
    shutil.rmtree(results_dir / job_id, ignore_errors=True)


@router.delete(
    "/{job_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404),
    summary="Delete a job in any state, with its files",
)
def delete_job(
    job_id: str, session: SessionDep, owner: CurrentOwner, settings: SettingsDep, request: Request
) -> Response:
    """The job's row, its idempotency keys and its files are removed, and `GET /jobs/{id}` is
    404 from then on. A running job is cancelled first (its dispatcher stops its process within
    a poll or two); its uploads are kept."""
    job_store.delete_job(session, owner, job_id)
    request.app.state.finished_jobs.discard(owner, job_id)
    remove_job_files(settings.results_dir, job_id)
    return Response(status_code=204)


def render_curve(job: Job, directory: Path, extension: str) -> Path:
    """The job's curve figure (a tuning job's: its range test's), drawn once by
    `finder.plot.plot_range_test` and kept."""
    from finder.plot import plot_range_test
    from finder.rangetest.result import RangeTestResult

    path = directory / job.id / f"curve.{extension}"
    if path.is_file():
        return path
    if job.status != "succeeded" or not job.result:
        raise ConflictError(f"Job {job.id} has no curve: it is {job.status}.")
    document = json.loads(job.result)
    if job.kind == "tune":
        document = document["range_test"]
        if document is None:
            raise ConflictError(f"Job {job.id} searched a given space: it ran no range test.")
    # The curve draws no proposals, and building them (their schedules are Keras objects) would
    # import TensorFlow into the API process.
    result = RangeTestResult.from_dict({**document, "proposals": []})
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=f".{extension}")
    os.close(handle)
    plot_range_test(result, path=temporary)
    os.replace(temporary, path)
    return path


@router.get(
    "/{job_id}/curve.{extension}",
    response_class=FileResponse,
    responses={
        200: {"content": {"image/png": {}, "image/svg+xml": {}}, "description": "The figure."},
        **error_responses(401, 404, 409),
    },
    summary="The loss-vs-LR curve of a succeeded job (PNG or SVG)",
)
def job_curve(
    job: OwnedJob, settings: SettingsDep, extension: Literal["png", "svg"]
) -> FileResponse:
    path = render_curve(job, settings.results_dir, extension)
    return FileResponse(path, media_type=CURVE_MEDIA_TYPES[extension])


def progress_event(job: Job) -> ServerSentEvent:
    public = JobPublic.from_row(job)
    fields = {"id", "status", "attempts", "progress", "error", "failure_kind"}
    data = public.model_dump(mode="json", include=fields)
    return ServerSentEvent(
        data=data,
        event="end" if job.status in TERMINAL_STATUSES else "progress",
        id=f"{job.attempts}-{job.steps_done}",
    )


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses=error_responses(401, 404),
    summary="Progress as Server-Sent Events until the job ends",
)
async def job_events(
    job: OwnedJob, engine: EngineDep, request: Request
) -> AsyncIterator[ServerSentEvent]:
    """`event: progress` whenever the job's state or progress changes, then one `event: end`
    with the final status. Each event's data is `{id, status, attempts, progress, error,
    failure_kind}`. A server that stops (its drain over) closes the stream without `end`:
    reconnect to follow the job on."""
    drain = request.app.state.drain

    def reload() -> Job | None:
        with Session(engine, expire_on_commit=False) as session:
            return session.get(Job, job.id)

    last = None
    current: Job | None = job
    while current is not None and not drain.over:
        key = (current.status, current.attempts, current.steps_done, current.cancel_requested)
        if key != last:
            last = key
            yield progress_event(current)
        if current.status in TERMINAL_STATUSES:
            return
        await anyio.sleep(EVENT_POLL_S)
        current = await anyio.to_thread.run_sync(reload)

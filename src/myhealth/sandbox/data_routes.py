"""The Oura data routes: list pages, single documents, heart rate, personal_info."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from myhealth.oura.catalog import DATA_TYPES, DataType
from myhealth.sandbox import hostile
from myhealth.sandbox.documents import Sandbox
from myhealth.sandbox.generator import Document
from myhealth.sandbox.page_tokens import PageTokens
from myhealth.sandbox.responses import NOT_FOUND, error_response
from myhealth.sandbox.windows import bounds, comparable

PREFIXES = ("/v2/usercollection", "/v2/sandbox/usercollection")

DateParam = Annotated[dt.datetime | dt.date | None, Query()]
DateTimeParam = Annotated[dt.datetime | None, Query()]
TextParam = Annotated[str | None, Query()]


def _broken_copy(doc: Document, number: int, day_field: str | None) -> Document:
    """A document with wrong types, for quarantine tests."""
    broken = dict(doc)
    if "id" in broken:
        broken["id"] = f"invalid-{number}-{broken['id']}"
    if day_field:
        broken[day_field] = 20_250_101 + number
    if "bpm" in broken:
        broken["bpm"] = "fast"
        broken["timestamp"] = 12345
    if "score" in broken:
        broken["score"] = "high"
    return broken


def _query(request: Request) -> dict[str, str]:
    return {key: value for key, value in request.query_params.items()}


def add_data_routes(app: FastAPI, sandbox: Sandbox) -> None:
    state = sandbox.state
    tokens = PageTokens()

    def page_response(
        request: Request, data_type: DataType, docs: list[Document], next_token: str | None
    ) -> Response:
        first_page = request.query_params.get("next_token") in (None, "")
        if first_page and state.faults.invalid_documents:
            docs = docs + [
                _broken_copy(docs[i % len(docs)], i, data_type.day_field)
                for i in range(state.faults.invalid_documents if docs else 0)
            ]
        if first_page and state.faults.hostile_documents and docs:
            kind = hostile.kind_for(data_type)
            texts = hostile.hostile_texts(data_type, kind, hostile.model_document(docs))
            body = hostile.page_text(docs, texts, next_token)
            return Response(body.encode(), media_type="application/json")
        return JSONResponse({"data": docs, "next_token": next_token})

    def next_token_for(data_type: DataType, params: dict[str, str], cursor: dict[str, int]) -> str:
        received = params.get("next_token")
        if received and data_type.route in state.faults.repeat_next_token:
            return received  # the "cycle" fault: hand the same token back
        return tokens.encode_token(data_type.route, params, cursor)

    def make_list(data_type: DataType) -> Callable[..., Awaitable[Response]]:
        async def list_route(
            request: Request,
            start_date: DateParam = None,
            end_date: DateParam = None,
            next_token: TextParam = None,
            fields: TextParam = None,  # accepted, ignored (Oura ignores unknown names too)
        ) -> Response:
            params = _query(request)
            start, end = bounds(start_date, end_date, state.today())
            if comparable(start) > comparable(end):
                return error_response(400, f"Start date {start} is greater than end date {end}.")
            cursor = None
            if next_token:
                decoded = tokens.decode_token(data_type.route, params, next_token)
                if decoded is None or set(decoded) != {"d", "i"}:
                    return error_response(400, "Invalid next_token.")
                cursor = (dt.date.fromordinal(decoded["d"]), decoded["i"])
            docs, following = sandbox.list_documents(
                data_type.name, start, end, cursor, state.faults.page_size
            )
            token = None
            if following is not None:
                token = next_token_for(
                    data_type, params, {"d": following[0].toordinal(), "i": following[1]}
                )
            return page_response(request, data_type, docs, token)

        return list_route

    def make_single(data_type: DataType) -> Callable[..., Awaitable[Response]]:
        async def single_route(document_id: str) -> Response:
            doc = sandbox.find_document(data_type.name, document_id)
            return JSONResponse(doc) if doc is not None else JSONResponse(NOT_FOUND, 404)

        return single_route

    heartrate = DATA_TYPES["heartrate"]

    async def heartrate_route(
        request: Request,
        start_datetime: DateTimeParam = None,
        end_datetime: DateTimeParam = None,
        next_token: TextParam = None,
        latest: Annotated[bool | None, Query()] = None,
        fields: TextParam = None,
    ) -> Response:
        if latest:
            return JSONResponse({"data": sandbox.latest_heart_rate(), "next_token": None})
        params = _query(request)
        now = state.now()
        end = comparable(end_datetime) if end_datetime else now
        start = comparable(start_datetime) if start_datetime else end - dt.timedelta(days=1)
        if start > end:
            return error_response(
                400, f"Start datetime {start} is greater than end datetime {end}."
            )
        after = None
        if next_token:
            decoded = tokens.decode_token(heartrate.route, params, next_token)
            if decoded is None or set(decoded) != {"t"}:
                return error_response(400, "Invalid next_token.")
            after = decoded["t"]
        rows, following = sandbox.heart_rate(start, end, after, state.faults.heartrate_page_size)
        token = None
        if following is not None:
            token = next_token_for(heartrate, params, {"t": following})
        return page_response(request, heartrate, rows, token)

    async def personal_info_route() -> Response:
        return JSONResponse(sandbox.person.personal_info())

    async def ring_configuration_route(
        request: Request, next_token: TextParam = None, fields: TextParam = None
    ) -> Response:
        ring = DATA_TYPES["ring_configuration"]
        rings = [
            doc
            for doc in sandbox.person.ring_configurations()
            if ("ring_configuration", str(doc.get("id"))) not in state.deleted  # a delete event
        ]
        return page_response(request, ring, rings, None)

    for prefix in PREFIXES:
        for data_type in DATA_TYPES.values():
            path = f"{prefix}/{data_type.route}"
            endpoint: Callable[..., Awaitable[Response]]
            if data_type.name == "heartrate":
                endpoint = heartrate_route
            elif data_type.name == "personal_info":
                endpoint = personal_info_route
            elif data_type.name == "ring_configuration":
                endpoint = ring_configuration_route
            else:
                endpoint = make_list(data_type)
            app.add_api_route(path, endpoint, methods=["GET"], name=f"{prefix}:{data_type.name}")
            if data_type.single_document_route:
                app.add_api_route(
                    path + "/{document_id}",
                    make_single(data_type),
                    methods=["GET"],
                    name=f"{prefix}:{data_type.name}:single",
                )

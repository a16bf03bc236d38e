"""Labels: append to accounts' label histories, all or nothing."""

from __future__ import annotations

from fastapi import APIRouter

from ringfence.api.deps import RequireLabel, StoreDep
from ringfence.api.errors import responses
from ringfence.api.jsonbody import OrjsonRoute
from ringfence.api.schemas import LabelsApplied, LabelsIn
from ringfence.graph.model import LabelIn

router = APIRouter(prefix="/v1/labels", tags=["labels"], route_class=OrjsonRoute)


@router.post("", dependencies=[RequireLabel], responses=responses(400, 401, 403, 404, 413, 422, 429, 503),
             summary="Label up to 10,000 accounts; any unknown account id is 404 for the whole request")
def add_labels(body: LabelsIn, store: StoreDep) -> LabelsApplied:
    applied = store.add_labels([LabelIn(x.account_id, x.label, x.source, x.note) for x in body.labels])
    return LabelsApplied(applied=applied)

"""Who the caller is: the key's position and scopes, so a client can hide what it may not do."""

from __future__ import annotations

from fastapi import APIRouter

from ringfence.api.deps import PrincipalDep
from ringfence.api.errors import responses
from ringfence.api.schemas import WhoAmI

router = APIRouter(prefix="/v1", tags=["identity"])


@router.get("/whoami", responses=responses(401, 422, 429, 503), summary="The calling key's id and scopes")
def whoami(principal: PrincipalDep) -> WhoAmI:
    return WhoAmI(key_id=principal.key_id, scopes=sorted(principal.scopes))

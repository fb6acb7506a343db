"""Compose projects: list, check, up, down, status, logs, convert."""

from __future__ import annotations

from fastapi import APIRouter, Query

from spin_gateway.gateway_api.deps import Auth, CheckAuth, DownAuth, GatewayDep, UpAuth
from spin_gateway.gateway_api.routes import PROJECT, errors
from spin_gateway.gateway_api.schemas import (
    ComposeRequest,
    ConvertResponse,
    ExecRequest,
    ExecResponse,
    LifecycleResponse,
    LogsResponse,
    PlanResponse,
    ProjectList,
    StatusResponse,
)

router = APIRouter(tags=["projects"])


@router.get("/v1/projects", response_model=ProjectList, responses=errors(401))
def list_projects(who: Auth, gateway: GatewayDep, limit: int = Query(100, ge=1, le=1000),
                  cursor: str | None = Query(None, max_length=63)) -> ProjectList:
    return gateway.list_projects(who, limit, cursor)


@router.post("/v1/projects/{project}/check", response_model=PlanResponse, responses=errors(401, 403, 404, 422, 503),
             summary="Decide every call of `up` without forwarding anything (dry run)")
def check(who: CheckAuth, gateway: GatewayDep, body: ComposeRequest, project: str = PROJECT) -> PlanResponse:
    return gateway.up(who, project, body.compose, facility_project=body.facility_project, dry_run=True,
                      as_user=body.as_user, allow_unsupported=body.allow_unsupported)


@router.put("/v1/projects/{project}", response_model=PlanResponse, responses=errors(401, 403, 409, 422, 502, 503, 504),
            summary="Bring the project up (idempotent: the same compose twice reports `unchanged`)")
def up(who: UpAuth, gateway: GatewayDep, body: ComposeRequest, project: str = PROJECT, wait: bool = False,
       timeout: float = Query(120, gt=0, le=3600),
       remove_orphans: bool = Query(False, description="Remove services the compose file no longer names "
                                    "(default: keep them running, with a notice)"),
       force_recreate: bool = Query(False, description="Replace every workload's pods, changed or not"),
       remove: list[str] = Query(default_factory=list, max_length=200,
                                 description="Services no longer in the compose file to remove (the others are kept)")
       ) -> PlanResponse:
    return gateway.up(who, project, body.compose, facility_project=body.facility_project, wait=wait, timeout=timeout,
                      allow_unsupported=body.allow_unsupported, remove_orphans=remove_orphans,
                      force_recreate=force_recreate, remove=remove)


@router.delete("/v1/projects/{project}", response_model=PlanResponse,
               responses=errors(401, 403, 404, 409, 502, 503))
def down(who: DownAuth, gateway: GatewayDep, project: str = PROJECT, volumes: bool = False) -> PlanResponse:
    return gateway.down(who, project, volumes=volumes)


@router.get("/v1/projects/{project}", response_model=StatusResponse, responses=errors(401, 403, 404))
def status(who: Auth, gateway: GatewayDep, project: str = PROJECT, limit: int = Query(100, ge=1, le=1000),
           cursor: str | None = Query(None, max_length=63, description="next_cursor of the previous page")
           ) -> StatusResponse:
    return gateway.status(who, project, limit, cursor)


@router.get("/v1/projects/{project}/logs", response_model=LogsResponse, responses=errors(401, 403, 404))
def logs(who: Auth, gateway: GatewayDep, project: str = PROJECT, service: str | None = Query(None, max_length=63),
         tail: int | None = Query(None, ge=0, le=100000), since: str | None = Query(None, max_length=40),
         timestamps: bool = Query(False, description="Each line's RFC 3339 time first, after `service | `")
         ) -> LogsResponse:
    return LogsResponse(project=project, lines=gateway.logs(who, project, service, tail, since, timestamps))


@router.post("/v1/projects/{project}/exec", response_model=ExecResponse,
             responses=errors(400, 401, 403, 404, 502, 503),
             summary="Run a command in a running service, decided by the policy (CONNECT PodExecOptions)")
def exec_(who: UpAuth, gateway: GatewayDep, body: ExecRequest, project: str = PROJECT) -> ExecResponse:
    return gateway.exec(who, project, body.service, body.command, body.timeout)


@router.post("/v1/projects/{project}/convert", response_model=ConvertResponse, responses=errors(401, 422),
             summary="The Kubernetes objects of a compose model, before policy")
def convert(who: Auth, gateway: GatewayDep, body: ComposeRequest, project: str = PROJECT) -> ConvertResponse:
    return gateway.convert(who, project, body.compose, allow_unsupported=body.allow_unsupported)


def _lifecycle_route(action: str):
    def route(who: UpAuth, gateway: GatewayDep, project: str = PROJECT,
              service: list[str] = Query(default_factory=list, max_length=200)) -> LifecycleResponse:
        return gateway.lifecycle(who, project, action, service)
    route.__name__ = action
    return route


# One fixed path per verb: a `{action}` parameter would catch every other POST under a project.
for _action in ("stop", "start", "restart"):
    router.add_api_route(f"/v1/projects/{{project}}/{_action}", _lifecycle_route(_action), methods=["POST"],
                         # 400: the backend cannot do it (manifests run nothing; Kubernetes has no stop/start);
                         # 409: another `up`/`down` of the project holds its lock past --lock-wait
                         response_model=LifecycleResponse, responses=errors(400, 401, 403, 404, 409, 502, 503),
                         summary=f"{_action.capitalize()} services (every service, or those named by `service`), "
                                 "as docker compose does")

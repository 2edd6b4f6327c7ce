"""Scale-out with Dask Gateway (`daskGateway`): who may use it, what a cluster may ask for, and the
chart it comes from. Off unless a stack turns it on."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from catalog.instance_types import pool_problem, profile_fit_problem, quantity
from settings.base import Memory, _field_error, _Model
from settings.login import GROUP_NAME

# The dask-gateway chart versions whose values schema and defaults data/charts/ carries.
DASK_GATEWAY_CHART_VERSIONS = ("2026.3.0",)


class WorkerSizeSettings(_Model):
    """One worker size a user may pick for her cluster (a `worker_size` option of the gateway)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    """The option's value, shown to the user (`small`)."""
    cores: int = Field(ge=1, le=64)
    """CPU cores per worker (requested and the limit; dask-gateway counts whole cores)."""
    memory: Memory
    """Memory per worker (requested and the limit), e.g. 8Gi."""
    groups: list[Annotated[str, Field(pattern=GROUP_NAME)]] = Field(default_factory=list)
    """Groups offered this size (each also in `daskGateway.groups`); empty: every group that may use Dask."""


class WorkerNodesSettings(_Model):
    """The workers' own node group: Spot capacity (a lost worker's tasks are recomputed; a scheduler,
    which a cluster cannot lose, runs on the on-demand core nodes), several instance types so one
    type's Spot shortage does not stop the pool, tainted for workers only, from zero."""

    instance_types: list[str] = Field(
        default_factory=lambda: ["m6i.2xlarge", "m6a.2xlarge", "m5.2xlarge"], min_length=2
    )
    """EC2 instance types of one size class (the autoscaler assumes the group's first type's CPU and memory)."""
    max_size: int = Field(10, ge=1, le=100)
    """Most worker nodes per availability zone."""
    disk_size_gib: int = Field(50, ge=20, le=1000)
    """Root volume of each worker node (images and Dask's spill to disk)."""

    @property
    def capacity_type(self) -> str:
        """Always Spot (the class docstring says why); the node group and the quota check read it here."""
        return "SPOT"


class DaskGatewaySettings(_Model):
    """Dask Gateway behind the hub's login (docs/dask.md)."""

    enabled: bool = False
    """Install Dask Gateway (the official chart) and let `groups` start Dask clusters from their servers."""
    chart_version: Literal[DASK_GATEWAY_CHART_VERSIONS] = "2026.3.0"  # type: ignore[valid-type]
    """Version of the `dask-gateway` chart (https://helm.dask.org); also the client version user images need."""
    namespace: str = Field("dask-gateway", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    """Namespace of the gateway and of every user's scheduler and workers."""
    groups: list[Annotated[str, Field(pattern=GROUP_NAME)]] = Field(default_factory=list)
    """Hub groups whose members may use Dask (JupyterHub role `access:services!service=dask-gateway`, on
    their API tokens and on the token their server holds). Hub admins hold it too (JupyterHub's admin role)."""
    worker_sizes: list[WorkerSizeSettings] = Field(
        default_factory=lambda: [WorkerSizeSettings(name="small", cores=1, memory="4Gi")]
    )
    """Worker sizes offered, the first being the default of whoever is offered it."""
    max_workers: int = Field(20, ge=1, le=500)
    """Most workers one cluster may have."""
    max_cores: float = Field(64, gt=0)
    """Most CPU cores one cluster may hold (scheduler and workers)."""
    max_memory: Memory = "256Gi"
    """Most memory one cluster may hold (scheduler and workers)."""
    idle_timeout_minutes: int = Field(30, ge=5)
    """A cluster with no work for this long is shut down (a user may choose up to `maxIdleTimeoutMinutes`)."""
    max_idle_timeout_minutes: int = Field(240, ge=5)
    """The longest idle timeout a user may choose."""
    max_lifetime_hours: float = Field(12, gt=0, le=168)
    """A cluster is ended this long after it started, busy or not (the pods' activeDeadlineSeconds)."""
    scheduler_cores: int = Field(1, ge=1, le=8)
    """CPU cores of each cluster's scheduler."""
    scheduler_memory: Memory = "2Gi"
    """Memory of each cluster's scheduler."""
    worker_nodes: WorkerNodesSettings = WorkerNodesSettings()
    """The Spot node group the workers run on."""
    namespace_max_cores: float = Field(200, gt=0)
    """Most CPU cores all clusters together may hold (the namespace's ResourceQuota, limits)."""
    namespace_max_memory: Memory = "800Gi"
    """Most memory all clusters together may hold (the namespace's ResourceQuota, limits)."""
    namespace_max_pods: int = Field(300, ge=10)
    """Most pods in the namespace (the gateway's own three included)."""

    @model_validator(mode="after")
    def _check(self) -> DaskGatewaySettings:
        if self.enabled and not self.groups:
            raise _field_error(
                "groups", "Dask is on but no group may use it; list the hub groups whose members may start clusters"
            )
        if self.idle_timeout_minutes > self.max_idle_timeout_minutes:
            raise _field_error(
                "idleTimeoutMinutes",
                f"{self.idle_timeout_minutes} exceeds maxIdleTimeoutMinutes {self.max_idle_timeout_minutes}; "
                "lower it or raise the maximum",
            )
        if self.max_cores > self.namespace_max_cores or quantity(self.max_memory) > quantity(self.namespace_max_memory):
            raise _field_error(
                "maxCores",
                f"one cluster's caps ({self.max_cores} cores, {self.max_memory}) exceed the namespace's "
                f"({self.namespace_max_cores} cores, {self.namespace_max_memory}); raise namespaceMaxCores/"
                "namespaceMaxMemory or lower the caps",
            )
        names = [size.name for size in self.worker_sizes]
        if not names or len(set(names)) != len(names):
            raise _field_error("workerSizes", f"list at least one size, each name once (got {names})")
        for index, size in enumerate(self.worker_sizes):
            unknown = sorted(set(size.groups) - set(self.groups))
            if unknown:
                raise _field_error(
                    f"workerSizes[{index}].groups",
                    f"size {size.name!r} names groups {unknown} that may not use Dask; add them to daskGateway.groups "
                    "or remove them here",
                )
            if size.cores + self.scheduler_cores > self.max_cores or quantity(size.memory) + quantity(
                self.scheduler_memory
            ) > quantity(self.max_memory):
                raise _field_error(
                    f"workerSizes[{index}]",
                    f"one worker of size {size.name!r} and the scheduler exceed maxCores {self.max_cores} or maxMemory "
                    f"{self.max_memory}; the cluster could never start a worker. Lower the size or raise the caps",
                )
        return self

    def sizes_for(self, group: str) -> list[WorkerSizeSettings]:
        """The sizes a member of `group` is offered."""
        return [size for size in self.worker_sizes if not size.groups or group in size.groups]

    def worker_node_problems(self, daemonset_overhead: tuple[str, str]) -> list[str]:
        """An unknown instance type, or a worker size that fits on no node of the pool (it would stay
        Pending: the autoscaler cannot help)."""
        problems = []
        types = self.worker_nodes.instance_types
        problem = pool_problem(types, "AL2023_x86_64_STANDARD")
        if problem:
            return [f"daskGateway.workerNodes.instanceTypes: {problem}"]
        for index, size in enumerate(self.worker_sizes):
            problem = profile_fit_problem(
                size.cores, size.memory, types, daemonset_overhead, pool_key="daskGateway.workerNodes.instanceTypes"
            )
            if problem:
                problems.append(f"daskGateway.workerSizes[{index}]: worker size {size.name!r} {problem}")
        return problems

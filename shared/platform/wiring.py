"""What a deployment gives the contexts to be built on: its table, its documents bucket and,
where a function starts or resumes workflows, its state machine. Each context's composition
root (shared/<context>/wiring.py) builds its stores and services from one of these; handlers
build it from their settings, the integration tests from moto, the embedded stack from the
template's outputs."""

from __future__ import annotations

from dataclasses import dataclass

from shared.platform.blobs import BlobStore, S3Blobs
from shared.platform.settings import ConfigurationError
from shared.platform.table import Table
from shared.platform.workflow import StepFunctionsWorkflow, Workflow


@dataclass(frozen=True)
class Platform:
    table: Table
    blobs: BlobStore | None = None  # None: nothing large is read or written (the reconciler)
    workflows: Workflow | None = None

    @property
    def workflow(self) -> Workflow:
        if self.workflows is None:
            raise ConfigurationError("this function was given no state machine")
        return self.workflows


def on_aws(
    table_name: str, documents_bucket: str, state_machine_arn: str | None = None
) -> Platform:
    return Platform(
        table=Table(table_name),
        blobs=S3Blobs(documents_bucket),
        workflows=StepFunctionsWorkflow(state_machine_arn) if state_machine_arn else None,
    )

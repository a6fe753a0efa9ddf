"""The self-restart schedule (EventBridge Scheduler, named by the stack output StartScheduleName): read
its state, pause it on `stop`, resume it on `start`.

UpdateSchedule replaces the whole schedule, setting any field left out to its default, and AWS
recommends reading it with GetSchedule first
(https://docs.aws.amazon.com/goto/WebAPI/scheduler-2021-06-30/UpdateSchedule): the update sends back
every field GetSchedule returned that UpdateSchedule accepts, with only State changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from neptune_ops.target import ScheduleName

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient

ENABLED, DISABLED = "ENABLED", "DISABLED"


@dataclass(frozen=True)
class ScheduleState:
    name: str
    group: str
    state: str
    expression: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "group": self.group, "state": self.state, "expression": self.expression}


def update_request(schedule: dict[str, Any], accepted: set[str], state: str) -> dict[str, Any]:
    """UpdateSchedule's arguments: the schedule as GetSchedule returned it, restricted to what
    UpdateSchedule accepts, with the new State."""
    request = {key: value for key, value in schedule.items() if key in accepted and value is not None}
    request["State"] = state
    return request


def read(client: EventBridgeSchedulerClient, schedule: ScheduleName) -> ScheduleState:
    got = client.get_schedule(Name=schedule.name, GroupName=schedule.group)
    return ScheduleState(schedule.name, schedule.group, str(got.get("State", "")), str(got.get("ScheduleExpression", "")))


def set_state(client: EventBridgeSchedulerClient, schedule: ScheduleName, state: str) -> tuple[ScheduleState, bool]:
    """Puts the schedule in `state`; returns it and whether it changed."""
    got: dict[str, Any] = dict(client.get_schedule(Name=schedule.name, GroupName=schedule.group))
    current = ScheduleState(schedule.name, schedule.group, str(got.get("State", "")), str(got.get("ScheduleExpression", "")))
    if current.state == state:
        return current, False
    # The operation's own input shape lists what it accepts: a field added to the API later is kept too.
    shape = client.meta.service_model.operation_model("UpdateSchedule").input_shape
    accepted = set(shape.members) if shape is not None else set()
    client.update_schedule(**update_request(got, accepted, state))
    return ScheduleState(current.name, current.group, state, current.expression), True

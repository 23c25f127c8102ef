"""Fargate task size rules: which task cpu/memory pairs AWS accepts.

Source: AWS ECS Developer Guide, "Task CPU and memory" for Fargate,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
(also task_definition_parameters.html#task_size). Unit strings such as
"0.25 vCPU" and "1 GB" are converted to CPU units / MiB at registration
([bc-ecs] RegisterTaskDefinitionRequest.cpu/memory).
"""
from __future__ import annotations

import re

_GB = 1024
#: cpu units -> accepted memory values in MiB
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1 * _GB, 4 * _GB + 1, _GB)),
    1024: tuple(range(2 * _GB, 8 * _GB + 1, _GB)),
    2048: tuple(range(4 * _GB, 16 * _GB + 1, _GB)),
    4096: tuple(range(8 * _GB, 30 * _GB + 1, _GB)),
    8192: tuple(range(16 * _GB, 60 * _GB + 1, 4 * _GB)),
    16384: tuple(range(32 * _GB, 120 * _GB + 1, 8 * _GB)),
}

_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_cpu(value: object) -> int | None:
    """"256" / 256 / "0.25 vCPU" -> 256 CPU units; None when unparseable."""
    # Only the spellings AWS converts ([bc-ecs] RegisterTaskDefinitionRequest.cpu: "1 vCPU"). The one
    # parser of task sizes: validation and the normalizer (reconciler.diff.taskdef.task_size) both call it.
    return _parse(value, {"": 1, "vcpu": 1024})


def parse_memory(value: object) -> int | None:
    """"512" / "1 GB" / "1GB" / "0.5GB" -> MiB; None when unparseable."""
    return _parse(value, {"": 1, "gb": 1024})  # [bc-ecs] RegisterTaskDefinitionRequest.memory: "1 GB"


def _parse(value: object, units: dict[str, int]) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if not match or match.group(2).lower() not in units:
        return None
    amount = float(match.group(1)) * units[match.group(2).lower()]
    return int(amount) if amount.is_integer() else None


def unreadable_size(field: str, value: object) -> str | None:
    """Why a task-level `cpu`/`memory` value cannot be converted as AWS does, or None.

    Any launch type: AWS converts the value to an integer at registration, and a
    value this parser cannot read is one the normalizer could not compare either.
    """
    if value is None:
        return None
    if field == "cpu" and parse_cpu(value) is None:
        return f"cannot read cpu {value!r} (use CPU units like \"256\" or \"0.25 vCPU\")"
    if field == "memory" and parse_memory(value) is None:
        return f"cannot read memory {value!r} (use MiB like \"512\" or \"1 GB\")"
    return None


def fargate_size_problem(cpu: object, memory: object) -> str | None:
    """Why this cpu/memory pair is not a Fargate size, or None when it is one."""
    if cpu is None or memory is None:
        return "Fargate needs task-level cpu and memory"
    unreadable = unreadable_size("cpu", cpu) or unreadable_size("memory", memory)
    if unreadable:
        return unreadable
    units, mib = parse_cpu(cpu), parse_memory(memory)
    assert units is not None and mib is not None
    if units not in FARGATE_SIZES:
        return f"cpu {units} is not a Fargate size ({', '.join(map(str, FARGATE_SIZES))})"
    allowed = FARGATE_SIZES[units]
    if mib not in allowed:
        return (f"memory {mib} MiB is not valid with cpu {units} on Fargate "
                f"(allowed: {_describe(allowed)})")
    return None


def _describe(allowed: tuple[int, ...]) -> str:
    if len(allowed) <= 3:
        return ", ".join(str(a) for a in allowed)
    step = allowed[1] - allowed[0]
    return f"{allowed[0]}-{allowed[-1]} in steps of {step}"

"""The sandbox's task indexes answer exactly what a walk over every task answers.

ListTasks(startedBy=), ListTasks(serviceName=), DescribeTasks and the one-off (RunTask) lookups read
indexes so that a request does not cost O(all tasks); each check here compares an index with the
full walk (`EcsSimulator.tasks()`, `OneOffTasks.tasks`) after every step of a random history on a
manual clock: rollouts, failed pulls, scale changes, task sets, a controller move that changes
tasks' startedBy, retired deployments and stopped tasks expiring.
"""
from __future__ import annotations

import random
from typing import Any

from reconciler.sandbox.clock import ManualClock
from reconciler.sandbox.ecs_engine import STEP_SECONDS, STOPPED_TASK_RETENTION, EcsSimulator, SimService, SimTask
from reconciler.sandbox.one_off import OneOffTasks

CONFIG = {"maximumPercent": 200, "minimumHealthyPercent": 100,
          "deploymentCircuitBreaker": {"enable": True, "rollback": True}}


def _failing(image: str) -> str | None:
    return "CannotPullContainerError: not found" if image == "bad" else None


def _create(sim: EcsSimulator, name: str, controller: str = "ECS") -> SimService:
    return sim.create_service(arn=f"arn:svc/{name}", name=name, cluster_arn="arn:c", cluster_name="c",
                              task_definition="td:1", containers=[("c", "ok")], desired_count=2,
                              controller=controller, deployment_configuration=dict(CONFIG), attributes={},
                              created_by="me")


def _check_ecs(sim: EcsSimulator, seen: dict[str, SimTask]) -> None:
    full = sim.tasks()
    seen.update({t.arn: t for t, _ in full})
    for value in {t.started_by for t in seen.values()} | {"nobody"}:
        assert sim.tasks_started_by(value) == [(t, s) for t, s in full if t.started_by == value], value
    for svc in sim.services.values():
        assert sim.tasks(svc) == [(t, s) for t, s in full if s is svc], svc.name
    listed = {id(t) for t, _ in full}
    for task in seen.values():
        expected = task if id(task) in listed else None
        assert sim.find_task(task.arn) is expected and sim.find_task(task.id) is expected, task.arn
    assert sim.find_task("arn:aws:ecs:eu-west-1:123456789012:task/c/nope") is None


def test_ecs_task_indexes_follow_every_change_of_a_random_history() -> None:
    rng = random.Random(13)
    clock = ManualClock()
    sim = EcsSimulator(clock, _failing)
    services = [_create(sim, f"s{i}") for i in range(3)]
    blue_green = _create(sim, "bg", controller="CODE_DEPLOY")
    seen: dict[str, SimTask] = {}
    moved_ids: set[str] = set()
    expired_before = 0
    for step in range(120):
        action = rng.choice(["tick", "tick", "deploy", "scale", "task_set", "retire", "expire"])
        svc = rng.choice(services)
        if action == "deploy":
            sim.start_deployment(svc, f"td:{step}", [("c", rng.choice(["ok", "ok", "bad"]))])
        elif action == "scale":
            sim.set_desired_count(svc, rng.randint(0, 3))
        elif action == "task_set" and blue_green.controller == "CODE_DEPLOY":
            old = [ts for ts in blue_green.task_sets]
            new = sim.create_task_set(blue_green, f"td:{step}", [("c", "ok")], external_id=f"d-{step}")
            sim.set_primary_task_set(blue_green, new)
            for ts in old[:-1]:
                sim.delete_task_set(blue_green, ts, "replaced")
        elif action == "retire" and len(svc.deployments) > 1:
            sim.retire(svc, svc.deployments[-1], clock.now(), "retired")
        elif action == "expire":
            expired_before += len(sim.stopped)
            clock.advance(STOPPED_TASK_RETENTION + STEP_SECONDS)
            sim.tick()
        if step == 80:  # CODE_DEPLOY -> ECS: the primary task set's tasks take the new deployment's id
            clock.advance(2 * STEP_SECONDS)
            sim.tick()  # the primary task set runs its tasks
            moved = [t for ts in blue_green.task_sets if ts.status == "PRIMARY" for t in ts.tasks]
            old_ids = {t.started_by for t in moved}
            sim.move_to_ecs_controller(blue_green)
            services.append(blue_green)
            _check_ecs(sim, seen)
            new_id = blue_green.deployments[0].id
            assert moved and not any(t in moved for value in old_ids for t, _ in sim.tasks_started_by(value))
            assert [t for t, _ in sim.tasks_started_by(new_id)] == moved
            moved_ids = {t.id for t in moved}
        clock.advance(STEP_SECONDS)
        sim.tick()
        _check_ecs(sim, seen)
    # The history covered what the indexes must survive.
    assert moved_ids
    assert expired_before and any(sim.find_task(t.arn) is None for t in seen.values())
    assert any(t.stop_code == "TaskFailedToStart" for t in seen.values())


def test_tasks_of_a_deleted_and_recreated_service_stay_listed_under_its_arn() -> None:
    """DeleteService stops the tasks and keeps the service INACTIVE; a new service with the same ARN
    (CreateService after a delete) lists the old one's stopped tasks, as the full walk does."""
    clock = ManualClock()
    sim = EcsSimulator(clock, _failing)
    first, other = _create(sim, "web"), _create(sim, "other")
    clock.advance(2 * STEP_SECONDS)
    sim.tick()
    started_by = first.deployments[0].id
    for group in first.deployments:
        sim.retire(first, group, clock.now(), "Service deleted")
    first.status, first.next_step_at = "INACTIVE", None
    again = _create(sim, "web")
    clock.advance(2 * STEP_SECONDS)
    sim.tick()
    seen: dict[str, SimTask] = {}
    _check_ecs(sim, seen)
    assert [t.desired_status for t, s in sim.tasks_started_by(started_by)] == ["STOPPED", "STOPPED"]
    assert all(s is again for _, s in sim.tasks_started_by(started_by)) and other.deployments[0].running == 2


def _taskdef(family: str) -> dict[str, Any]:
    return {"family": family, "taskDefinitionArn": f"arn:td/{family}:1",
            "containerDefinitions": [{"name": "app", "image": "ok", "command": ["run"]}]}


def _check_one_off(tasks: OneOffTasks, now: float) -> None:
    listed = list(tasks.tasks.values())
    for value in {t.started_by for t in listed if t.started_by} | {"nobody"}:
        assert tasks.started_by(value) == [t for t in listed if t.started_by == value], value
    for task in listed:
        assert tasks.find(task.arn) is task and tasks.find(task.id) is task
        assert task.stopped_at is None or now - task.stopped_at <= STOPPED_TASK_RETENTION
    assert tasks._active == {t.arn: t for t in listed if t.last_status != "STOPPED"}


def test_one_off_indexes_follow_runs_stops_and_expiry() -> None:
    rng = random.Random(5)
    clock = ManualClock()
    tasks = OneOffTasks(clock, lambda image: "CannotPullContainerError: x" if image == "bad" else None,
                        "123456789012", "eu-west-1")
    gone: list[tuple[str, str]] = []
    for _ in range(150):
        action = rng.choice(["run", "run", "stop", "tick", "wait"])
        if action == "run":
            td = _taskdef(rng.choice(["a", "b"]))
            if rng.random() < 0.2:
                td["containerDefinitions"][0]["image"] = "bad"
            tasks.run("c", "arn:c", td, {"startedBy": rng.choice(["hook-1", "hook-2", None])})
        elif action == "stop" and tasks.tasks:
            tasks.stop(rng.choice(list(tasks.tasks.values())), "by the test")
        elif action == "wait":
            clock.advance(rng.choice([STEP_SECONDS, STOPPED_TASK_RETENTION / 2]))
        before = {(t.arn, t.id) for t in tasks.tasks.values()}
        clock.advance(1.0)
        tasks.tick()
        gone += sorted(before - {(t.arn, t.id) for t in tasks.tasks.values()})
        _check_one_off(tasks, clock.now())
    assert gone and all(tasks.find(arn) is None and tasks.find(task_id) is None for arn, task_id in gone)
    assert tasks.started_by("hook-1") or tasks.started_by("hook-2")


def test_a_stopped_one_off_task_is_kept_exactly_for_the_retention() -> None:
    clock = ManualClock()
    tasks = OneOffTasks(clock, lambda image: None, "123456789012", "eu-west-1")
    task = tasks.run("c", "arn:c", _taskdef("a"), {"startedBy": "hook"})
    tasks.stop(task, "by the test")
    clock.advance(STOPPED_TASK_RETENTION)
    tasks.tick()
    assert tasks.started_by("hook") == [task]
    clock.advance(0.5)
    tasks.tick()
    assert tasks.started_by("hook") == [] and tasks.find(task.id) is None and not tasks.tasks

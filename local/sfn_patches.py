"""A fix for moto's Step Functions engine (5.2.x) that the workflow needs: StopExecution of an
execution whose task waits for a token.

moto marks the stopped program as stopped but leaves a `.waitForTaskToken` task blocked until
its own timeout (the execution reports RUNNING all that time), and the task's eventual error
then overwrites the stopped state, so the execution ends FAILED. On AWS, StopExecution ends it
at once as ABORTED. `stop_interrupts_waiting_tasks()` wakes the stopped execution's token waits
and keeps a stopped program stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_interrupts_waiting_tasks() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_stop = ExecutionWorker.stop
    original_set_error = Environment.set_error

    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        original_stop(self, stop_date=stop_date, error=error, cause=cause)
        for endpoint in list(self.env.callback_pool_manager._pool.values()):  # no public accessor
            endpoint.interrupt_all()

    def set_error(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return  # the interrupted task's error must not turn ABORTED into FAILED
        original_set_error(self, error)

    ExecutionWorker.stop = stop
    Environment.set_error = set_error
    try:
        yield
    finally:
        ExecutionWorker.stop = original_stop
        Environment.set_error = original_set_error

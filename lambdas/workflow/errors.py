"""Errors raised by workflow tasks. A task's exception class name is its Step Functions error name."""


class JobNotFound(Exception):
    """The job row is gone (deleted by its owner while queued)."""


class JobNotRunnable(Exception):
    """The job is no longer in the state this step needs (failed by the reaper, already finished)."""


class InvalidManifest(Exception):
    """The endpoint's manifest does not describe this job's media in the inference bucket."""


class InvocationRefused(Exception):
    """SageMaker refused InvokeEndpointAsync for now (throttled, unavailable; botocore's own retries
    spent). Nothing was queued and the claim is withdrawn: the Generate state retries the task."""


class InferenceFailed(Exception):
    """The endpoint reported a failed invocation (used as the task failure's error name)."""


class TokenNotCurrent(Exception):
    """The Generate task is being retried and its new token is not stored yet: deliver again."""

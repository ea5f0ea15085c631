"""Errors of a transcription. Each class name is the Step Functions error name of the task that
invoked the function (Lambda reports an unhandled exception's type as `errorType`), so the workflow
can tell the user's bad audio from a fault worth retrying."""


class AudioRejected(Exception):
    """The audio cannot be transcribed (undecodable, or outside the limits); the message says why
    and is meant for the user. Retrying does not help."""


class SourceMissing(Exception):
    """A source object is gone (its song or upload was deleted after the job was queued)."""


class StorageError(Exception):
    """Reading or writing S3 failed (throttled, denied, unavailable): worth a retry."""


class InvalidRequest(Exception):
    """The event does not follow the contract (a bug in the caller, not the user's doing)."""

"""The data layer: every read and write of the tables and buckets, one module per table and concern.

- jobs.py: a song's row and its status (where each status is set: its docstring)
- ledger.py: the credit ledger (reserve at submission, capture once, release once, grants)
- slots.py: a user's running jobs (the per-user limit's semaphore)
- users.py: the user row and the webhook signing secret
- uploads.py: uploaded source tracks, the songs that keep them, their expiry
- personas.py: the users' personas (reference clips and style text)
- webhook_deliveries.py: the webhook delivery records on the job row
- objects.py: the S3 buckets (media, scratch, uploads)
- dynamo.py: what the table modules share (conditional writes, transactions, paging)

Stores take their table and bucket names; each function builds the ones it needs once, at its
first invocation, from its settings (lambdas/common/settings.py), and passes them on.
"""

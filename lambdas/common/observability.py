"""Logger, Tracer and Metrics, configured once for every function (service name from env)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only botocore is traced: the functions make no other outbound calls, and auto-patching every
# supported library would import `requests` and friends at cold start for nothing.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()

"""S3 buckets: durable media, short-lived inference scratch, and the access-log bucket they log to."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .removal import kept, kept_always

SCRATCH_RETENTION_DAYS = 7


class Storage(Construct):
    """Owns the buckets; every bucket is encrypted, private, TLS-only and access-logged."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retain: bool = True,
        cors_allow_origins: tuple[str, ...] = ("*",),
    ) -> None:
        super().__init__(scope, construct_id)

        # Log deliveries can reach it while a first deploy is still running: plain Retain.
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            **private_bucket(kept_always(retain)),
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        )

        # Songs and covers users paid for: versioned so an overwrite or delete can be undone.
        self.media_bucket = s3.Bucket(
            self,
            "Media",
            **private_bucket(kept(retain)),
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="media/",
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30)),
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                    allowed_origins=list(cors_allow_origins),
                    max_age=3600,
                )
            ],
        )

        # Requests, async outputs and generated media before publishing: reproducible, so
        # not versioned, and expired after a week.
        self.inference_bucket = s3.Bucket(
            self,
            "Inference",
            **private_bucket(kept(retain)),
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="inference/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(SCRATCH_RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )


def private_bucket(removal: RemovalPolicy) -> dict:
    """The settings every bucket of the stack shares: SSE-S3, no public access, TLS 1.2+ only."""
    # No auto_delete_objects: it adds a custom-resource Lambda with broad S3 rights; a stage
    # torn down with `retain=False` is emptied by the operator first (docs/operations.md).
    return {
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "enforce_ssl": True,
        "minimum_tls_version": 1.2,
        "removal_policy": removal,
    }

"""The web app's security headers, shared by CloudFront (stacks/web.py) and the local stack (local/web.py).

Plain Python (no CDK import) so the local stack can serve the same policy: the app's CSP allows
scripts and styles from its own origin only, and network access to exactly the API, Cognito, the
media bucket (presigned audio, cover and timed-lyrics URLs) and the uploads bucket (presigned POST forms).
"""

from __future__ import annotations

from collections.abc import Iterable

REFERRER_POLICY = "strict-origin-when-cross-origin"
HSTS_MAX_AGE_S = 63_072_000  # two years, the preload list's minimum is one


def content_security_policy(
    *,
    api_origins: Iterable[str],
    auth_origins: Iterable[str],
    media_origins: Iterable[str],
    upload_origins: Iterable[str],
) -> str:
    """The CSP for the single-page app: nothing inline, nothing from elsewhere, no framing."""
    media = " ".join(media_origins)
    # The local stack serves Cognito, media and uploads from one origin: name each once.
    connect = dict.fromkeys(["'self'", *api_origins, *auth_origins, *upload_origins, *media_origins])
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": f"'self' {media}",
        "media-src": media,
        # 'self' for /config.json; the API for data; Cognito for sign-in and token refresh; the
        # uploads bucket for the presigned POST of a source track; the media bucket for a take's
        # timed lyrics (a presigned GET the song page reads; the bucket's CORS allows GET).
        "connect-src": " ".join(connect),
        "manifest-src": "'self'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())

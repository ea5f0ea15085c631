"""The web app's hosting: private bucket behind CloudFront with OAC, security headers with a CSP
naming exactly the API, Cognito and the media bucket, SPA routing, config.json written at deploy
time, and the API's CORS and Cognito's callback URLs set to the distribution's domain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template


def _one(template: Template, resource_type: str, contains: str = "") -> tuple[str, dict[str, Any]]:
    found = {k: v for k, v in template.find_resources(resource_type).items() if contains in k}
    assert len(found) == 1, (resource_type, list(found))
    return next(iter(found.items()))


def _site_bucket(template: Template) -> str:
    return _one(template, "AWS::S3::Bucket", "WebSite")[0]


def _distribution(template: Template) -> tuple[str, dict[str, Any]]:
    return _one(template, "AWS::CloudFront::Distribution")


def _web_origin(template: Template) -> dict[str, Any]:
    dist_id, _ = _distribution(template)
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [dist_id, "DomainName"]}]]}


def test_site_bucket_is_private_and_read_only_by_the_distribution(template: Template) -> None:
    bucket_id = _site_bucket(template)
    bucket = template.find_resources("AWS::S3::Bucket")[bucket_id]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "WebsiteConfiguration" not in bucket  # served through CloudFront only
    _, policy = _one(template, "AWS::S3::BucketPolicy", "WebSite")
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    dist_id, _ = _distribution(template)
    assert allows == [
        {
            "Action": "s3:GetObject",
            "Condition": {
                "StringEquals": {
                    "AWS:SourceArn": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":cloudfront::",
                                {"Ref": "AWS::AccountId"},
                                ":distribution/",
                                {"Ref": dist_id},
                            ],
                        ]
                    }
                }
            },
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
        }
    ]


def test_distribution_uses_oac_https_only_headers_and_spa_routing(template: Template) -> None:
    oac_id, oac = _one(template, "AWS::CloudFront::OriginAccessControl")
    assert oac["Properties"]["OriginAccessControlConfig"] == {
        "Name": oac["Properties"]["OriginAccessControlConfig"]["Name"],
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    _, dist = _distribution(template)
    config = dist["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert origin["DomainName"] == {"Fn::GetAtt": [_site_bucket(template), "RegionalDomainName"]}
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    headers_id, _ = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    assert config["DefaultRootObject"] == "index.html"
    assert sorted(config["CustomErrorResponses"], key=lambda r: r["ErrorCode"]) == [
        {"ErrorCachingMinTTL": 0, "ErrorCode": code, "ResponseCode": 200, "ResponsePagePath": "/index.html"}
        for code in (403, 404)
    ]
    assert config["Logging"]["Prefix"] == "cloudfront/"


def test_security_headers_and_a_csp_allowing_exactly_the_api_cognito_media_and_uploads(
    template: Template,
) -> None:
    _, policy = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    security = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000
    parts = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Join"][1]
    api_id, _ = _one(template, "AWS::ApiGateway::RestApi")
    media_id = _one(template, "AWS::S3::Bucket", "StorageMedia")[0]
    # Render the tokens readably, then read the directives.
    names = {api_id: "API", media_id: "MEDIA", "AWS::URLSuffix": "amazonaws.com", "AWS::AccountId": "ACCOUNT"}
    text = "".join(
        p
        if isinstance(p, str)
        else names[p["Ref"]]
        if "Ref" in p
        else f"{names[p['Fn::GetAtt'][0]]}.{p['Fn::GetAtt'][1]}"
        for p in parts
    )
    directives = {d.split()[0]: d.split()[1:] for d in text.split("; ")}
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["connect-src"] == [
        "'self'",
        "https://API.execute-api.us-east-1.amazonaws.com",
        "https://cognito-idp.us-east-1.amazonaws.com",
        # The uploads bucket by its name (not its attributes: its CORS names this distribution).
        "https://song-dev-uploads-ACCOUNT-us-east-1.s3.amazonaws.com",
        "https://song-dev-uploads-ACCOUNT-us-east-1.s3.us-east-1.amazonaws.com",
        # The media bucket: the song page reads a take's timed lyrics (LRC) with fetch().
        "https://MEDIA.DomainName",
        "https://MEDIA.RegionalDomainName",
    ]
    uploads_name = _one(template, "AWS::S3::Bucket", "UploadsBucket")[1]["Properties"]["BucketName"]
    assert "".join(p if isinstance(p, str) else names[p["Ref"]] for p in uploads_name["Fn::Join"][1]) == (
        "song-dev-uploads-ACCOUNT-us-east-1"
    )
    media = ["https://MEDIA.DomainName", "https://MEDIA.RegionalDomainName"]
    assert directives["media-src"] == media
    assert directives["img-src"] == ["'self'", *media]


def test_config_json_is_written_at_deploy_time_with_this_stages_settings(
    template: Template, cloud_assembly: Path
) -> None:
    _, shell = _one(template, "Custom::CDKBucketDeployment", "WebShell")
    props = shell["Properties"]
    config_asset = props["SourceObjectKeys"][1].removesuffix(".zip")
    raw = (cloud_assembly / f"asset.{config_asset}" / "config.json").read_text()
    for marker, value in props["SourceMarkers"][1].items():
        raw = raw.replace(marker, json.dumps(value))  # the deploy-time value, as a template token
    config = json.loads(raw)
    api_id, _ = _one(template, "AWS::ApiGateway::RestApi")
    pool_id, _ = _one(template, "AWS::Cognito::UserPool")
    client_id, _ = _one(template, "AWS::Cognito::UserPoolClient")
    assert set(config) == {"apiUrl", "region", "userPoolId", "userPoolClientId", "authFlow"}
    assert {"Ref": api_id} in config["apiUrl"]["Fn::Join"][1]
    assert config["userPoolId"]["Fn::Join"][1][1] == {"Ref": pool_id}
    assert config["userPoolClientId"]["Fn::Join"][1][1] == {"Ref": client_id}
    assert config["region"] == "us-east-1"
    assert config["authFlow"] == "USER_SRP_AUTH"
    # The shell is revalidated on every visit and invalidated on deploy; the build never names an API.
    assert props["SystemMetadata"] == {"cache-control": "no-cache"}
    assert {"/index.html", "/config.json"} <= set(props["DistributionPaths"])
    _, assets = _one(template, "Custom::CDKBucketDeployment", "WebAssets")
    bundle = cloud_assembly / f"asset.{assets['Properties']['SourceObjectKeys'][0].removesuffix('.zip')}"
    scripts = "".join(p.read_text() for p in bundle.glob("assets/*.js"))
    assert scripts and "execute-api" not in scripts and "config.json" in scripts
    assert not (bundle / "config.json").exists()


def test_api_cors_and_cognito_callbacks_name_the_distribution(template: Template) -> None:
    origin = _web_origin(template)
    env = next(
        f["Properties"]["Environment"]["Variables"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if "CORS_ALLOW_ORIGINS" in f["Properties"].get("Environment", {}).get("Variables", {})
    )
    assert env["CORS_ALLOW_ORIGINS"] == origin
    preflights = [
        m["Properties"]["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert preflights
    quoted = {"Fn::Join": ["", ["'https://", origin["Fn::Join"][1][1], "'"]]}
    for params in preflights:
        assert params["method.response.header.Access-Control-Allow-Origin"] == quoted
    for response in template.find_resources("AWS::ApiGateway::GatewayResponse").values():
        assert (
            response["Properties"]["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
            == quoted
        )
    # The browser POSTs uploads straight to the uploads bucket (S3 refuses an empty origin list).
    uploads = next(
        b["Properties"]
        for logical, b in template.find_resources("AWS::S3::Bucket").items()
        if logical.startswith("UploadsBucket")
    )
    (cors,) = uploads["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == [origin]
    _, client = _one(template, "AWS::Cognito::UserPoolClient")
    callback = {"Fn::Join": ["", ["https://", origin["Fn::Join"][1][1], "/"]]}
    assert client["Properties"]["CallbackURLs"] == [callback]
    assert client["Properties"]["LogoutURLs"] == [callback]
    assert "ALLOW_USER_SRP_AUTH" in client["Properties"]["ExplicitAuthFlows"]

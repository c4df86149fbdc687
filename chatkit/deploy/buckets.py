"""S3 work around the stack: the artifacts bucket that holds the Lambda zip, the web
client upload (with the endpoints in ``config.js``) and emptying buckets for deletion.

    >>> bucket = ensure_artifacts_bucket(aws)                       # doctest: +SKIP
    >>> key = upload_once(aws, bucket, "chatkit/lambda-ab12.zip", zip_path)  # doctest: +SKIP
    >>> upload_web_client(aws, web_bucket, WebConfig("wss://…", "https://…"))  # doctest: +SKIP
    >>> empty_bucket(aws, web_bucket)                               # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..webconfig import WebConfig
from .aws import Aws
from .errors import DeployError

__all__ = [
    "WEB_ROOT",
    "artifacts_bucket_name",
    "delete_artifacts",
    "empty_bucket",
    "ensure_artifacts_bucket",
    "upload_once",
    "upload_web_client",
]

WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def artifacts_bucket_name(aws: Aws) -> str:
    """One artifacts bucket per account and region: ``chatkit-artifacts-<account>-<region>``."""
    return f"chatkit-artifacts-{aws.account_id}-{aws.region}"


def _bucket_exists(s3: Any, bucket: str, owner: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404:
            return False
        raise RuntimeError(
            f"버킷 {bucket}을 쓸 수 없습니다 (bucket {bucket} is not usable: {status}). "
            "다른 계정의 버킷이거나 권한이 없습니다. (Owned by another account, or no access.)"
        ) from None
    return True


def ensure_artifacts_bucket(aws: Aws, log: Callable[[str], None] = print) -> str:
    """The artifacts bucket, created private and encrypted if it does not exist."""
    s3, bucket = aws.client("s3"), artifacts_bucket_name(aws)
    if _bucket_exists(s3, bucket, aws.account_id):
        return bucket
    log(f"S3 버킷 생성 (creating bucket) {bucket}")
    location = {} if aws.region == "us-east-1" else {"LocationConstraint": aws.region}
    s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {}))
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    return bucket


def upload_once(
    aws: Aws, bucket: str, key: str, path: Path, log: Callable[[str], None] = print
) -> bool:
    """Upload ``path`` to ``key`` unless it is already there (keys are content-addressed);
    True if it uploaded."""
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=aws.account_id)
        return False
    except ClientError as err:
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
            raise
    log(f"업로드 (uploading) s3://{bucket}/{key} ({path.stat().st_size / 2**20:.1f} MB)")
    s3.upload_file(str(path), bucket, key, ExtraArgs={"ExpectedBucketOwner": aws.account_id})
    return True


def _web_files(config: WebConfig) -> dict[str, bytes]:
    files = {
        path.relative_to(WEB_ROOT).as_posix(): path.read_bytes()
        for path in sorted(WEB_ROOT.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }
    files["config.js"] = config.to_js().encode()
    return files


def upload_web_client(
    aws: Aws, bucket: str, config: WebConfig, log: Callable[[str], None] = print
) -> list[str]:
    """Put the web client (``chatkit/web``) and its ``config.js`` (``config``, with the
    error texts) in ``bucket``; files whose content is already there are skipped. Returns
    the keys it uploaded."""
    from botocore.exceptions import ClientError

    s3, uploaded = aws.client("s3"), []
    for key, body in _web_files(config).items():
        etag = f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
        try:
            if s3.head_object(Bucket=bucket, Key=key)["ETag"] == etag:
                continue
        except ClientError as err:
            if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=_CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream"),
            CacheControl="no-cache",  # CloudFront revalidates, so a redeploy shows at once
            ExpectedBucketOwner=aws.account_id,
        )
        uploaded.append(key)
    log(f"웹 클라이언트 (web client): {len(uploaded)} uploaded, s3://{bucket}/")
    return uploaded


def empty_bucket(aws: Aws, bucket: str, prefix: str = "") -> int:
    """Delete every object version and delete marker under ``prefix``; returns how many.
    Objects S3 refuses to delete (``DeleteObjects`` reports them per key, with HTTP 200)
    raise :class:`DeployError` naming them."""
    s3, removed = aws.client("s3"), 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(doomed), 1000):
            batch = doomed[start : start + 1000]
            refused = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
            ).get("Errors", [])
            if refused:
                raise DeployError(_refused(bucket, refused))
            removed += len(batch)
    return removed


def _refused(bucket: str, errors: list[dict[str, Any]]) -> str:
    listed = "\n  ".join(
        f"{e.get('Key')} ({e.get('VersionId', '-')}): {e.get('Code')} {e.get('Message', '')}"
        for e in errors[:5]
    )
    more = f"\n  … +{len(errors) - 5}" if len(errors) > 5 else ""
    return (
        f"s3://{bucket}에서 {len(errors)}개 객체를 지우지 못했습니다 (S3 refused to delete "
        f"{len(errors)} objects; the bucket is not empty):\n  {listed}{more}\n"
        "권한이나 객체 잠금(Object Lock)을 확인한 뒤 다시 실행하세요. "
        "(Check permissions or Object Lock, then run it again.)"
    )


def delete_artifacts(aws: Aws, prefix: str, log: Callable[[str], None] = print) -> None:
    """Remove a stack's artifacts, then the artifacts bucket if nothing else is left."""
    s3, bucket = aws.client("s3"), artifacts_bucket_name(aws)
    if not _bucket_exists(s3, bucket, aws.account_id):
        return
    removed = empty_bucket(aws, bucket, prefix)
    log(f"아티팩트 삭제 (artifacts removed): {removed} from s3://{bucket}/{prefix}")
    left = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
    if not left.get("Versions") and not left.get("DeleteMarkers"):
        s3.delete_bucket(Bucket=bucket, ExpectedBucketOwner=aws.account_id)
        log(f"버킷 삭제 (bucket deleted) {bucket}")

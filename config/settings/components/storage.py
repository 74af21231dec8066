"""Where recordings and reports are kept: Django's default storage, local files unless an S3 bucket is named."""


def s3_storage(*, bucket: str, endpoint_url: str = "", region: str = "") -> dict[str, object]:
    """django-storages' S3 backend for the default storage: private objects, signed URLs, no overwrites.

    Credentials come from the environment as boto3 reads them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or an
    instance role); `endpoint_url` points it at an S3-compatible service (MinIO, R2, …).
    """
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

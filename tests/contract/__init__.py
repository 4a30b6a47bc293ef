"""One behaviour contract, run on every backend: S3 (moto through the counting
proxy), the GCS emulator, Azurite and the local filesystem. Each behaviour is
asserted once, with each backend's exact request counts; a test that does not
apply to a backend says which and why (``backends(fs="...")``). What differs
by backend stays in test_s3_*.py, test_gcloud.py, test_azure.py and
test_filesystem.py."""

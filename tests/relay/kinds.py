"""Request kinds the GCS and Azure classifiers share."""

LIST = "list"  # a listing page (GCS objects.list, Azure List Blobs)
METADATA = "metadata"  # one object's metadata (GCS objects.get, Azure HEAD blob)
DOWNLOAD = "download"  # one object's content
UPLOAD = "upload"  # (part of) an object upload
DELETE = "delete"
BATCH = "batch"  # GCS batch endpoint
BUCKET = "bucket"  # GCS: one bucket's metadata (GET/PATCH/DELETE /b/{bucket})
OTHER = "other"  # bucket lists, containers, compose, copy, ...

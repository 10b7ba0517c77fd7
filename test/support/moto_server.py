"""The AWS test peer: moto's server, with S3 conditional writes made atomic.

moto checks `If-None-Match: *` / `If-Match` and then stores the object without a lock, so two
concurrent create-only writes of one key can both succeed on its threaded server (seen here: two
"winners" of one schedule slot under load). Real S3 evaluates the condition atomically, and
kots-backup's exactly-once claims rely on that, so the peer serialises conditional writes.
test/peers/moto-s3-conformance.test.ts holds the property to this standard.
"""
import functools
import threading

from moto.s3.responses import S3Response
from moto.server import main

_conditional_writes = threading.Lock()


def _atomic_when_conditional(handler):
    @functools.wraps(handler)
    def wrapper(self, *args, **kwargs):
        if self.headers.get("If-None-Match") or self.headers.get("If-Match"):
            with _conditional_writes:
                return handler(self, *args, **kwargs)
        return handler(self, *args, **kwargs)

    return wrapper


# PutObject, and CompleteMultipartUpload (a POST with ?uploadId=).
S3Response.put_object = _atomic_when_conditional(S3Response.put_object)
S3Response._key_response_post = _atomic_when_conditional(S3Response._key_response_post)

if __name__ == "__main__":
    main()

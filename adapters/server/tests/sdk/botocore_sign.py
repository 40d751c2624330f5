"""Signs a request with botocore's SigV4Auth (AWS's reference signer) at a given time and prints
its Authorization header. Input: one JSON argument {method, url, body, content_type, date, key,
secret, token, region}."""
import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

spec = json.loads(sys.argv[1])
fixed = datetime.datetime.strptime(spec["date"], "%Y%m%dT%H%M%SZ")


class At(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return fixed

    @classmethod
    def now(cls, tz=None):
        return fixed.replace(tzinfo=tz) if tz else fixed


botocore.auth.datetime.datetime = At
if hasattr(botocore.auth, "get_current_datetime"):
    botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed
request = AWSRequest(method=spec["method"], url=spec["url"], data=spec["body"].encode(),
                     headers={"Content-Type": spec["content_type"]})
credentials = Credentials(spec["key"], spec["secret"], spec["token"])
botocore.auth.SigV4Auth(credentials, "bedrock", spec["region"]).add_auth(request)
assert request.headers["X-Amz-Date"] == spec["date"], request.headers["X-Amz-Date"]
print(request.headers["Authorization"])

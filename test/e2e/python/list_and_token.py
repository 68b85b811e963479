"""A client of the spapi-auth token API in Python with only the standard library.

It reads the API description from the service, finds the operations it needs by their
operationId, lists the sellers and gets an access token for the first one. Prints one JSON
document: {"sellers": [...], "token": {...}}.

Usage: SPAPI_AUTH_URL=http://127.0.0.1:3000 SPAPI_AUTH_KEY=spk_... python3 list_and_token.py
"""
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ["SPAPI_AUTH_URL"].rstrip("/")
KEY = os.environ["SPAPI_AUTH_KEY"]


def call(path, authorized=True):
    headers = {"Accept": "application/json"}
    if authorized:
        headers["Authorization"] = "Bearer " + KEY
    req = urllib.request.Request(BASE + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.load(res)
    except urllib.error.HTTPError as err:
        body = json.load(err)
        sys.exit("%s %s: %s" % (err.code, body["error"]["code"], body["error"]["message"]))


def operation(doc, operation_id):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op["operationId"] == operation_id:
                return method.upper(), path
    sys.exit("the API description has no operation " + operation_id)


doc = call("/openapi.json", authorized=False)
_, list_path = operation(doc, "get_v1_sellers")
_, token_path = operation(doc, "get_v1_sellers_id_access_token")

sellers = []
cursor = None
while True:
    query = {"limit": "2"}
    if cursor:
        query["cursor"] = cursor
    page = call(list_path + "?" + urllib.parse.urlencode(query))
    sellers.extend(item["selling_partner_id"] for item in page["items"])
    cursor = page["next_cursor"]
    if not cursor:
        break

seller = urllib.parse.quote(sellers[0], safe="")
token = call(token_path.replace("{id}", seller))
print(json.dumps({"sellers": sellers, "token": token}))

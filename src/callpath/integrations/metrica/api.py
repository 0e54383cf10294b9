"""Yandex Metrica's management API for what callpath uploads: the calls upload
(`POST /management/v1/counter/{counterId}/offline_conversions/upload_calls`) and offline
conversions for won deals (`…/offline_conversions/upload`), each a CSV file sent as
`multipart/form-data` (field `file`), authorised by the counter's OAuth token
(`Authorization: OAuth <token>`). Neither upload has a dedup key: the sender sends each
call and each deal at most once (`integrations.senders.at_most_once`)."""

from __future__ import annotations

import csv
import io
import secrets
from urllib.parse import quote, urlencode

from callpath.integrations.http import OutRequest

API = "https://api-metrika.yandex.net"
CALL_GOAL = "Звонок (callpath)"  # the goal Metrica makes for uploaded calls if missing


def calls_upload(base: str, counter: str, token: str, text: str, private: bool) -> OutRequest:
    query = urlencode({"comment": "callpath", "new_goal_name": CALL_GOAL})
    path = f"/management/v1/counter/{quote(counter)}/offline_conversions/upload_calls"
    return _upload(f"{base.rstrip('/')}{path}?{query}", token, text, private)


def conversions_upload(base: str, counter: str, token: str, text: str, private: bool) -> OutRequest:
    query = urlencode({"comment": "callpath"})
    path = f"/management/v1/counter/{quote(counter)}/offline_conversions/upload"
    return _upload(f"{base.rstrip('/')}{path}?{query}", token, text, private)


def deal_csv(id_column: str, id_value: str, goal: str, at: float, price: str, currency: str) -> str:
    """One offline conversion: the visit's id, the goal (`Target`), when, the money."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([id_column, "Target", "DateTime", "Price", "Currency"])
    writer.writerow([id_value, goal, str(int(at)), price, currency])
    return out.getvalue()


def _upload(url: str, token: str, text: str, private: bool) -> OutRequest:
    boundary = "callpath" + secrets.token_hex(12)
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="callpath.csv"\r\n'
        "Content-Type: text/csv; charset=utf-8\r\n\r\n"
        f"{text}\r\n--{boundary}--\r\n"
    ).encode()
    headers = {
        "Authorization": f"OAuth {token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    return OutRequest("POST", url, headers, body, private)

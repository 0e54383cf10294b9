"""Kamailio SIP edge: a proxy in front of the business PBX asks callpath per INVITE.

`GET /hooks/sip/route` answers the destination number as plain text; dialog answer, end
and failure come to `POST /hooks/sip/event` as JSON. Both carry the integration's shared
secret in `X-Callpath-Secret` (see deploy/kamailio/ and docs/telephony.md).
"""

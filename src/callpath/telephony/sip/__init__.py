"""Kamailio SIP edge: a proxy in front of the business PBX asks callpath per INVITE.

`GET /hooks/sip/route` answers the destination number as plain text; dialog answer, end
and failure come to `POST /hooks/sip/event` as JSON. Both carry the integration's shared
secret in `X-Callpath-Secret`. Kamailio's configuration is `kamailio.cfg.tmpl` beside this
file, rendered by `callpath sip config` (docs/telephony.md).
"""

"""Inbound call webhooks (`/hooks/...`), one module per provider: generic (the signed
JSON events), twilio, zadarma (also Novofon), sip (the Kamailio edge). Each reads its
provider's request, and `common.receive` does the rest the same way for all: the body
checked, the event verified, routed and stored by `services.pipeline`, folding after the
answer, nothing cached. Asterisk has no webhook: its listener process reads AMI
(`workers.asterisk`)."""

from __future__ import annotations

from callpath.web.hooks import generic, sip, twilio, zadarma

ROUTERS = (generic.router, twilio.router, zadarma.router, sip.router)

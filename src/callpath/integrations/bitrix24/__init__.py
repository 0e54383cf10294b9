"""Bitrix24, both ways, through the portal's own webhooks: a call's lead added over its
incoming webhook (rest: the URL and the answers; lead: what the lead says; sender), and
its deals read back when its outgoing webhook reports a change (deal: the event and the
deal read; inbound). connect: the destination that holds both."""

"""amoCRM / Kommo (API v4): a call's lead created there, or noted on the caller's open
lead (`sender`, its requests and answers in `leads`); its leads' status changes back as
deals (`status_hook` reads amoCRM's form, `inbound` records them); `connect` adds one."""

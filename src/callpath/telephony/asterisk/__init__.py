"""Asterisk / FreePBX: an AMI listener turning the events of calls to tracking numbers
into call events (`callpath asterisk listen`, see docs/telephony.md)."""

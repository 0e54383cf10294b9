"""Twilio Programmable Voice: the Voice webhook answers TwiML <Dial>; callbacks are events."""

"""Google Analytics 4: calls as events of the visit's client, by the Measurement Protocol."""

"""Meta (Facebook, Instagram): calls as leads, by the Conversions API."""

"""Simulated providers: a carrier that speaks Twilio's protocol from the outside (see carrier.py)."""

"""What a router asks for, in domain words; no HTTP in here."""

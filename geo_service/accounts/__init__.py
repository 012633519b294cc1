"""Accounts: who is signed in, what their role and areas let them see and do."""

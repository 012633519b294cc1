"""HTTP routers, one module per subject."""

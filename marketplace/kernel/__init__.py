"""The kernel: building blocks every package uses. It imports no domain package (listings, escrow,
search, demand, finance, messaging) and nothing from marketplace.web; tests/marketplace/
test_layers.py checks it."""

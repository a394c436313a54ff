"""Deals and their state machine, the double-entry ledger, payment gateways, webhooks, deal documents."""

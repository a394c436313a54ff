"""Messages between a prospective buyer and a listing's seller side, and between the parties of a deal (issue 17)."""

"""IP rights, listings and their lifecycle, identifiers, grades, offers, auctions and bids."""

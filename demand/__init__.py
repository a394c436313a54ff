"""The demand side (issue 22): wanted ads (求购), two-way matching with listings, and the data room
(尽职调查资料室) a seller opens to buyers under an NDA. See docs/demand.md."""

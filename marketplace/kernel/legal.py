"""The user agreement and the privacy policy: which version is in force, and the consent to it (PIPL Art. 13–14).

Registration (HTML and API) needs the user's consent to both documents; the user row records the version they
agreed to (``users.terms_version``) and when (``users.terms_accepted_at``). A new version of either document gets
a new ``TERMS_VERSION`` (the date it takes effect). The texts are ``templates/pages/terms_<lang>.html`` and
``privacy_policy_<lang>.html``, one per language; the Chinese text governs.
"""
TERMS_VERSION = "2026-12-06"

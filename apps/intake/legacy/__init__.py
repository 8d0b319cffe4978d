"""The legacy facade: Tailor's ``POST /accounts`` and ``GET /requeststatus/<id>`` on top of v1."""

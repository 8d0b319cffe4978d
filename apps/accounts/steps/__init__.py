"""The accounts context's workflow steps: ``creation`` creates the member account and waits
for it (``create_account``, ``wait_account``); ``commands`` runs the commands on existing
accounts (``adopt_account``, ``move_account``, ``close_account``). ``aws`` is what they
share of Organizations and STS.
"""

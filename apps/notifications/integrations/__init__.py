"""Integration steps of kind ``http``: the systems outside AWS an account is registered
with (the directory's distribution lists and security groups, the cost-management tool).

``calls`` POSTs the account's details, signed like a webhook, to an operator-configured
endpoint and follows the call; ``steps`` are the declared steps that use it; the
endpoint's callback (``POST /v1/steps/<token>/complete`` or ``/fail``) arrives through
``rest/steps.py``.
"""

"""The baseline context's workflow steps, one module each: IAM and SAML federation
(``iam``), CloudTrail (``cloudtrail``), AWS Config (``config``) and the Enterprise Support
case (``support``) of a new member account.

A step's parameters come from the blueprint (the ``step_params`` input) laid over the
step's defaults (``params``), key by key: a key the blueprint gives replaces the default
whole (a blueprint's ``roles`` list replaces the four default roles). Every step but
``support`` works inside the member account through the payer's member role; ``support``
works in the payer's management account, which holds the Support plan.

What the steps share: ``params`` (defaults, how the IAM and Config parameters read, the
catalog's ``check_params``), ``describe`` (what a dry run says each step creates) and
``aws`` (the context's one way to a boto3 client, look-ups, regions and documents).
"""

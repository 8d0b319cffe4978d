"""The network context's workflow steps: the VPC carved from the payer's IP pool
(``vpc``), its flow logs (``flow_logs``), its private DNS zone (``dns``) and its Direct
Connect private virtual interface (``direct_connect``), one module each.

Every step acts inside the member account (assume-role), in the request's region, and
tags what it creates with ``bespoke:request-id`` and ``bespoke:component``. Before
creating anything it looks for what an earlier attempt left (by tag, client token or
caller reference), so running a step again converges on the same resources.

What the steps share: ``params`` (each step's default parameters and their checks, the
catalog's ``check_params``), ``describe`` (what a dry run says each step creates) and
``aws`` (EC2 look-ups by our tags, tag specifications, "not yet" error codes).
"""

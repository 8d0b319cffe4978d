"""Deploy a stage from this machine:

    python -m deploy up dev                  # first deploy and every update: foundation, queues, package,
                                             # zappa deploy/update, mappings, migrate, the API's URL
    python -m deploy up production --organization-id o-aaaaaaaaaa --operator-email ops@example.com
    python -m deploy up production-network   # a peeled function, on its monolith's foundation
    python -m deploy settings dev            # var/zappa_settings.dev.json for other zappa commands (-s)

Credentials and region come from the environment as for the AWS CLI (the region of a
stage is its ``aws_region``). The deploying principal's permissions:
``deploy/iam/deployer-policy.json``.
"""

import argparse
import json
import sys
from pathlib import Path

from deploy import apply_queues, foundation, release, stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="create or update everything a stage needs; safe to run again")
    up.add_argument("stage")
    up.add_argument("--zip", type=Path, help="a package already built for the stage (default: make package)")
    up.add_argument(
        "--organization-id",
        action="append",
        default=[],
        dest="organization_ids",
        help="a payer's Organization (repeat); default: the stack's current ones, or this account's",
    )
    up.add_argument("--operator-email", help="subscribe this address to the operators' alarms (kept once set)")
    up.add_argument("--management-role-arn", action="append", default=[], dest="management_role_arns")
    up.add_argument("--no-migrate", action="store_false", dest="migrate")
    rendered = commands.add_parser("settings", help="write the stage's Zappa settings with its foundation's outputs")
    rendered.add_argument("stage")
    parser.add_argument("--settings", type=Path, default=apply_queues.SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    settings = json.loads(args.settings.read_text())
    apply_queues.stage_settings(args.stage, settings)  # an unknown stage stops here
    tools = release.default_tools(release.region_of(args.stage, settings))
    if args.command == "settings":
        monolith = foundation.monolith_stage(args.stage, settings)
        outputs = stacks.stack_outputs(tools.client("cloudformation"), foundation.stack_name(monolith, settings))
        if outputs is None:
            raise release.DeployError(f"{monolith} has no foundation yet: python -m deploy up {monolith}")
        path = release.write_settings(monolith, settings, outputs, directory=release.Options().settings_dir)
        print(f"zappa <command> {args.stage} -s {path.relative_to(release.ROOT)}")
        return 0
    options = release.Options(
        zip_path=args.zip,
        organization_ids=args.organization_ids,
        operator_email=args.operator_email,
        management_role_arns=args.management_role_arns,
        migrate=args.migrate,
    )
    release.up(args.stage, settings=settings, options=options, tools=tools)
    return 0


if __name__ == "__main__":
    sys.exit(main())

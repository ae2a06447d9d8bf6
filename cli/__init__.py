"""Stylescope's commands: one module per subcommand, each with `add_parser(subparsers, parents)`
and `run(args) -> exit code`. main.py is their only user. Module tops import neither torch nor Qt;
each run() imports the libraries it drives."""

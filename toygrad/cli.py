"""Command-line flags from a lesson's settings dataclass.

    @dataclass
    class Settings:
        steps: int = 50_000        # the notebook's run length
        seed: int = 0

    settings, options = cli.parse(Settings, quick=dict(steps=2_000), default_out="figures/05_grokking")

gives `--steps 2000 --seed 3`, one flag per field (underscores become dashes, booleans get --x / --no-x,
tuples take several values), plus
    --quick       start from the `quick` overrides: a small run for smoke tests; explicit flags still win
    --out DIR     where figures, metrics.json and checkpoints go
    --resume      continue from the checkpoint in --out, if there is one
"""
import argparse
import dataclasses
import typing
from pathlib import Path


def parse(settings_cls, argv=None, *, quick=None, default_out="out", description=None):
    """Parse argv (default: sys.argv) into (settings, options); options has .quick, .out (a Path), .resume."""
    if not dataclasses.is_dataclass(settings_cls):
        raise TypeError(f"parse: settings_cls must be a dataclass, got {settings_cls!r}")
    parser = argparse.ArgumentParser(description=description, argument_default=argparse.SUPPRESS,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    hints = typing.get_type_hints(settings_cls)
    defaults = settings_cls()
    for f in dataclasses.fields(settings_cls):
        _add_flag(parser, f.name, hints[f.name], getattr(defaults, f.name))
    parser.add_argument("--quick", action="store_true", default=False,
                        help=f"a small run for smoke tests: {quick}" if quick else "a small run for smoke tests")
    parser.add_argument("--out", type=Path, default=Path(default_out), help="output directory")
    parser.add_argument("--resume", action="store_true", default=False,
                        help="continue from the checkpoint in --out, if there is one")
    args = vars(parser.parse_args(argv))
    options = argparse.Namespace(quick=args.pop("quick"), out=args.pop("out"), resume=args.pop("resume"))
    for name, value in args.items():
        if typing.get_origin(hints[name]) is tuple:
            args[name] = tuple(value)
    settings = dataclasses.replace(defaults, **(quick or {})) if options.quick else defaults
    return dataclasses.replace(settings, **args), options


def _add_flag(parser, name, kind, default):
    flag = "--" + name.replace("_", "-")
    help_text = f"default: {default}"
    if kind is bool:
        parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, help=help_text)
    elif typing.get_origin(kind) in (tuple, list):
        item = typing.get_args(kind)[0] if typing.get_args(kind) else str
        parser.add_argument(flag, dest=name, nargs="+", type=item, help=help_text)
    elif kind in (int, float, str):
        parser.add_argument(flag, dest=name, type=kind, help=help_text)
    else:
        raise TypeError(f"parse: field {name!r} has type {kind!r}; supported: int, float, str, bool, tuple, list")

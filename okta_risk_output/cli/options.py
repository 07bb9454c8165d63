"""Click options made from tables of Setting (config/table.py), never written out by hand.

- `setting_options(command)`: the flags of every setting the command takes. A flag not given
  is None, so that build_settings can fall back on the variable and the default; `--help`
  shows the default that will be used (the command's own, if it has one).
- `own_options(command, table)`: options click resolves itself (map's, the emulator's): the
  default goes to click, and the value is parsed by click, as a choice or through the
  setting's parser.

Either way an option is listed in `--help` under its setting's group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from okta_risk_output.cli.command import SectionedOption
from okta_risk_output.config import parsers
from okta_risk_output.config.table import Setting, settings_of

__all__ = ["own_options", "setting_options"]

F = TypeVar("F", bound=Callable[..., Any])


def setting_options(command: str) -> Callable[[F], F]:
    return _all(_setting_option(s, command) for s in settings_of(command) if not s.env_only)


def own_options(command: str, table: Iterable[Setting]) -> Callable[[F], F]:
    return _all(_own_option(s, command) for s in table if command in s.commands)


def _setting_option(setting: Setting, command: str) -> Callable[[F], F]:
    shown = setting.default_for(command) or setting.shown_default
    help_text = setting.help_for(command) + (f" [default: {shown}]" if shown else "")
    kwargs: dict[str, Any] = (
        {"is_flag": True} if setting.is_switch else {"metavar": setting.metavar}
    )
    return click.option(
        setting.flag,
        *setting.aliases,
        setting.name,
        default=None,
        help=help_text,
        cls=SectionedOption,
        section=setting.group,
        **kwargs,
    )


def _own_option(setting: Setting, command: str) -> Callable[[F], F]:
    help_text = setting.help_for(command)
    if setting.shown_default:
        help_text += f" [default: {setting.shown_default}]"
    kwargs: dict[str, Any] = {"multiple": setting.multiple}
    if setting.is_switch:
        kwargs["is_flag"] = True
    else:
        kwargs["metavar"] = setting.metavar
        default = setting.default_for(command)
        if default is not None:  # else click's own "not given": () for a repeatable option
            kwargs.update(default=default, show_default=bool(default))
        parse = setting.parse
        if isinstance(parse, click.ParamType):
            kwargs["type"] = parse
            if isinstance(parse, click.Choice):
                kwargs["metavar"] = None  # click lists the choices: [503|reset]
        elif isinstance(parse, parsers.OneOf):
            kwargs.update(type=click.Choice(parse.words), metavar=None)  # [source|destination]
        elif parse not in (parsers.text, parsers.text_or_none):
            kwargs["callback"] = _parsed_by(parse)
    return click.option(
        setting.flag,
        *setting.aliases,
        setting.name,
        help=help_text,
        cls=SectionedOption,
        section=setting.group,
        **kwargs,
    )


def _parsed_by(parse: Callable[[Any], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    # A callback rather than a ParamType subclass: ParamType is generic only from click 8.2.
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as problem:
            raise click.BadParameter(str(problem), ctx, param) from None

    return callback


def _all(decorators: Iterable[Callable[[F], F]]) -> Callable[[F], F]:
    """One decorator applying these in order, the first one's option listed first."""
    listed = list(decorators)

    def apply(function: F) -> F:
        for decorator in reversed(listed):
            function = decorator(function)
        return function

    return apply

"""The keys a pydantic model takes in the mapping at a key path of its data: what a misspelt key of a rig file is
compared with (hil.did_you_mean)."""

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from hil.did_you_mean import KeyPath


def keys_at(model: type[BaseModel], path: KeyPath) -> list[str]:
    """The field names of the models the data at `path` is validated by (every member of a union)."""
    types: list[Any] = [model]
    for part in path:
        types = [child for annotation in types for child in _children(annotation, part)]
    return sorted({name for annotation in types for member in _members(annotation) for name in _fields(member)})


def _members(annotation: Any) -> list[Any]:
    """The types an annotation may be: the members of a union, without Annotated's metadata."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return [member for arg in get_args(annotation) for member in _members(arg)]
    return [annotation]


def _children(annotation: Any, part: Any) -> list[Any]:
    """The annotations of what `part` indexes in data of this annotation: a model's field, a list's or tuple's
    items."""
    found: list[Any] = []
    for member in _members(annotation):
        origin = get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and part in member.model_fields:
            found.append(member.model_fields[part].annotation)
        elif origin in (list, tuple) and isinstance(part, int):
            found += [arg for arg in get_args(member) if arg is not Ellipsis]
    return found


def _fields(member: Any) -> list[str]:
    return list(member.model_fields) if isinstance(member, type) and issubclass(member, BaseModel) else []

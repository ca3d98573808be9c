"""A griffe extension for the documentation site: a class built by ``__new__`` shows it as its
constructor.

The compiled classes (``Value``, ``Dual``) are built by ``__new__``, which is what their stub
declares (stubtest insists). mkdocstrings merges only ``__init__`` into a class's heading and
docstring, so without this the API pages would show ``Value`` without its signature and
``__new__`` as a method. For a class with a ``__new__`` and no ``__init__`` of its own, this
documents the ``__new__`` as an ``__init__`` (``cls`` read as ``self``), which mkdocstrings then
merges. mkdocs.yml loads it by path.
"""

from __future__ import annotations

from typing import Any

import griffe


class NewAsConstructor(griffe.Extension):
    """Documents each ``__new__``-built class's ``__new__`` as its constructor."""

    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        """Replace ``cls.__new__`` by an ``__init__`` with its parameters and docstring."""
        new = cls.members.get("__new__")
        if not isinstance(new, griffe.Function) or "__init__" in cls.members:
            return
        params = list(new.parameters)
        if params and params[0].name == "cls":
            params[0] = griffe.Parameter("self", kind=params[0].kind)
        init = griffe.Function(
            "__init__",
            lineno=new.lineno,
            endlineno=new.endlineno,
            parameters=griffe.Parameters(*params),
            returns="None",
            parent=cls,
        )
        if new.docstring is not None:
            init.docstring = griffe.Docstring(
                new.docstring.value,
                lineno=new.docstring.lineno,
                endlineno=new.docstring.endlineno,
                parent=init,
            )
        cls.del_member("__new__")
        cls.set_member("__init__", init)

"""Flow files: flow documents written by hand, in YAML or JSON, read with located errors.

:func:`read_flow_file` reads a file into a :class:`FlowFile`: its document
and the line of each place in it. :meth:`FlowFile.build` builds the flow and
:meth:`FlowFile.check` checks that it is ready to run; every error names the
file, the line when known, and the place (``flow.yaml:12: routines.router...``).
:meth:`routilux.Flow.from_file` reads and builds in one call; this module is
for tools that change the document before building it, as the ``routilux``
command does. YAML files need PyYAML (the ``cli`` extra).
"""

from routilux._serde.flow_files import (
    MAX_FILE_BYTES,
    MAX_YAML_BYTES_WITHOUT_LIBYAML,
    FlowFile,
    read_flow_file,
)

__all__ = ["MAX_FILE_BYTES", "MAX_YAML_BYTES_WITHOUT_LIBYAML", "FlowFile", "read_flow_file"]

"""The pprof ``profile.proto`` schema (package ``perftools.profiles``), declared in code and
turned into message classes by the protobuf runtime at import.

Why not a generated ``_pb2`` module: generated code is tied to the protobuf release that
generated it (the runtime refuses gencode newer than itself), so a checked-in module would
need regenerating with each grpcio-tools/protobuf pairing; a hand-written wire encoder would
need a decoder of its own for the CLI. Declaring the descriptor here keeps one schema for both
writing and reading, encoded by the maintained runtime. The field numbers are those of
https://github.com/google/pprof/blob/main/proto/profile.proto; the tests read the files back
with ``go tool pprof``, an independent reader.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_PACKAGE = "perftools.profiles"
_U64 = descriptor_pb2.FieldDescriptorProto.TYPE_UINT64
_I64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
_STR = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_BOOL = descriptor_pb2.FieldDescriptorProto.TYPE_BOOL
_MSG = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_ONE = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_MANY = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED

# message name -> (field name, number, type, repeated, message type)
_MESSAGES: dict[str, list[tuple[str, int, int, bool, str]]] = {
    "Profile": [
        ("sample_type", 1, _MSG, True, "ValueType"),
        ("sample", 2, _MSG, True, "Sample"),
        ("mapping", 3, _MSG, True, "Mapping"),
        ("location", 4, _MSG, True, "Location"),
        ("function", 5, _MSG, True, "Function"),
        ("string_table", 6, _STR, True, ""),
        ("drop_frames", 7, _I64, False, ""),
        ("keep_frames", 8, _I64, False, ""),
        ("time_nanos", 9, _I64, False, ""),
        ("duration_nanos", 10, _I64, False, ""),
        ("period_type", 11, _MSG, False, "ValueType"),
        ("period", 12, _I64, False, ""),
        ("comment", 13, _I64, True, ""),
        ("default_sample_type", 14, _I64, False, ""),
    ],
    "ValueType": [("type", 1, _I64, False, ""), ("unit", 2, _I64, False, "")],
    "Sample": [
        ("location_id", 1, _U64, True, ""),
        ("value", 2, _I64, True, ""),
        ("label", 3, _MSG, True, "Label"),
    ],
    "Label": [
        ("key", 1, _I64, False, ""),
        ("str", 2, _I64, False, ""),
        ("num", 3, _I64, False, ""),
        ("num_unit", 4, _I64, False, ""),
    ],
    "Mapping": [
        ("id", 1, _U64, False, ""),
        ("memory_start", 2, _U64, False, ""),
        ("memory_limit", 3, _U64, False, ""),
        ("file_offset", 4, _U64, False, ""),
        ("filename", 5, _I64, False, ""),
        ("build_id", 6, _I64, False, ""),
        ("has_functions", 7, _BOOL, False, ""),
        ("has_filenames", 8, _BOOL, False, ""),
        ("has_line_numbers", 9, _BOOL, False, ""),
        ("has_inline_frames", 10, _BOOL, False, ""),
    ],
    "Location": [
        ("id", 1, _U64, False, ""),
        ("mapping_id", 2, _U64, False, ""),
        ("address", 3, _U64, False, ""),
        ("line", 4, _MSG, True, "Line"),
        ("is_folded", 5, _BOOL, False, ""),
    ],
    "Line": [("function_id", 1, _U64, False, ""), ("line", 2, _I64, False, "")],
    "Function": [
        ("id", 1, _U64, False, ""),
        ("name", 2, _I64, False, ""),
        ("system_name", 3, _I64, False, ""),
        ("filename", 4, _I64, False, ""),
        ("start_line", 5, _I64, False, ""),
    ],
}


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(
        name="resilience/profiling/profile.proto", package=_PACKAGE, syntax="proto3"
    )
    for name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=name)
        for field_name, number, kind, repeated, type_name in fields:
            field = message.field.add(
                name=field_name, number=number, type=kind, label=_MANY if repeated else _ONE
            )
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
    return proto


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file())

Profile: Any = message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"{_PACKAGE}.Profile"))
"""The ``perftools.profiles.Profile`` message class (a protobuf message; fields as in
profile.proto)."""
